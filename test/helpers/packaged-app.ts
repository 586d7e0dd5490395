// The artifact heroku-buildpack-mcp-auth-proxy installs (`npm run package`), built once per test
// run and unpacked into app directories as the buildpack lays it out: <app>/mcp-auth-proxy/.
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './proxy-process.js';

const run = promisify(execFile);
export const TARBALL = join(ROOT, 'build', 'mcp-auth-proxy.tar.gz');

let packaged: Promise<void> | undefined;

/** `npm run package` (build included), once per test run. */
export function packageOnce(): Promise<void> {
  packaged ??= run('npm', ['run', 'package'], { cwd: ROOT }).then(() => undefined);
  return packaged;
}

/** A new app directory holding the unpacked artifact, as the buildpack leaves /app. */
export async function unpackedApp(prefix = 'mcp-auth-proxy-app-'): Promise<string> {
  await packageOnce();
  const app = await mkdtemp(join(tmpdir(), prefix));
  await run('tar', ['-xzf', TARBALL, '-C', app]);
  return app;
}
