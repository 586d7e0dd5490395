// The build being measured: the proxy runs from dist/ (as in production), so dist/ is rebuilt
// when src/ is newer, and the report names the commit (and whether src/ had local changes).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { log } from './stats.js';

/** Newest modification time (ms) of any file under dir. */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

export function gitDescription(root: string): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' }).trim();
    return dirty ? `${head} + uncommitted changes in src/ (${dirty.split('\n').length} files)` : head;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

/** Builds dist/ when it is missing or older than src/. A failed build with an existing dist/ only warns. */
export function ensureBuild(root: string, build: boolean): void {
  const main = join(root, 'dist', 'main.js');
  const src = join(root, 'src');
  // A --proxy-root without src/ (a copy of a build) is measured as it is.
  const stale = !existsSync(main) || (existsSync(src) && newestMtime(src) > statSync(main).mtimeMs);
  if (!stale) return;
  if (!build) {
    if (!existsSync(main)) throw new Error('dist/ is missing and --no-build was given');
    log('WARNING: dist/ is older than src/ (--no-build given): measuring the existing build');
    return;
  }
  log('dist/ is missing or older than src/: running `npm run build`');
  const r = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    if (!existsSync(main)) throw new Error('`npm run build` failed and there is no dist/ to measure');
    log('WARNING: `npm run build` failed (src/ may be mid-edit); measuring the existing dist/');
  }
}
