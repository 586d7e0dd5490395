#!/usr/bin/env node
// `npm run package`: the artifact heroku-buildpack-mcp-auth-proxy installs into an app's
// mcp-auth-proxy/ directory. The buildpack downloads a release asset named
// mcp-auth-proxy.tar.gz, unpacks it (one top-level mcp-auth-proxy/ directory), may run
// `npm install --production` in it, copies it to /app/mcp-auth-proxy/ and checks for
// package.json, index.js and node_modules/. Its default processes then run from /app:
//   web:     node mcp-auth-proxy/index.js
//   release: MCP_AUTH_PROXY_VERIFY_RELEASE=true PORT=3001 node mcp-auth-proxy/index.js
// Output (git-ignored): build/mcp-auth-proxy/ and build/mcp-auth-proxy.tar.gz.
// Expects a fresh `npm run build` (the npm script runs it first).
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BUILD = join(ROOT, 'build');
const OUT = join(BUILD, 'mcp-auth-proxy');
const TARBALL = join(BUILD, 'mcp-auth-proxy.tar.gz');

const ENTRY = `#!/usr/bin/env node
// Entry of the packaged proxy, run from the app directory by heroku-buildpack-mcp-auth-proxy:
//   web:     node mcp-auth-proxy/index.js
//   release: MCP_AUTH_PROXY_VERIFY_RELEASE=true PORT=3001 node mcp-auth-proxy/index.js
// Without arguments it is \`start\`, which MCP_AUTH_PROXY_VERIFY_RELEASE=true turns into the
// release check; with them, any command of the tool, e.g.
//   heroku run node mcp-auth-proxy/index.js config
// Configuration comes from the environment (and a .env in the working directory).
await import('./bin/mcp-auth-proxy.js');
`;

if (!existsSync(join(ROOT, 'dist', 'main.js'))) {
  process.stderr.write('package: dist/ is missing: run `npm run build` first (`npm run package` does)\n');
  process.exit(1);
}

rmSync(OUT, { recursive: true, force: true });
rmSync(TARBALL, { force: true });
mkdirSync(OUT, { recursive: true });

// Compiled JS without source maps (their sources are not shipped), the views, the command line.
cpSync(join(ROOT, 'dist'), join(OUT, 'dist'), { recursive: true, filter: (src) => !src.endsWith('.map') });
for (const entry of ['views', 'bin', 'package-lock.json', 'README.md', '.env-template']) {
  // This script builds the package; it is not part of it.
  cpSync(join(ROOT, entry), join(OUT, entry), { recursive: true, filter: (src) => !src.endsWith('package-artifact.js') });
}

// package.json without the development scripts: the buildpack's `npm install` in the package
// must not try to build (`prepare`) or test. devDependencies stay listed so that the lock file
// matches; --omit=dev never installs them.
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const patchesDir = join(ROOT, 'patches');
const patched = existsSync(patchesDir) && readdirSync(patchesDir).some((name) => name.endsWith('.patch'));
if (patched) cpSync(patchesDir, join(OUT, 'patches'), { recursive: true });
const packaged = {
  name: pkg.name,
  version: pkg.version,
  private: pkg.private,
  description: pkg.description,
  license: pkg.license,
  type: pkg.type,
  engines: pkg.engines,
  main: 'index.js',
  bin: pkg.bin,
  scripts: { start: 'node index.js', ...(patched ? { postinstall: 'patch-package' } : {}) },
  dependencies: pkg.dependencies,
  devDependencies: pkg.devDependencies,
};
writeFileSync(join(OUT, 'package.json'), `${JSON.stringify(packaged, null, 2)}\n`);
writeFileSync(join(OUT, 'index.js'), ENTRY, { mode: 0o755 });
// Heroku Identity's metadata files where Heroku's documents point IDENTITY_SERVER_METADATA_FILE
// (/app/mcp-auth-proxy/heroku_identity_staging_metadata.json): see src/identity/heroku-identity.ts.
const { HEROKU_IDENTITY_METADATA, herokuMetadataFileName } = await import(new URL('../dist/identity/heroku-identity.js', import.meta.url).href);
for (const [environment, metadata] of Object.entries(HEROKU_IDENTITY_METADATA)) {
  writeFileSync(join(OUT, herokuMetadataFileName(environment)), `${JSON.stringify(metadata, null, 2)}\n`);
}

// Production dependencies exactly as locked; from the local npm cache when it has them.
execFileSync('npm', ['ci', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: OUT, stdio: 'inherit' });

execFileSync('tar', ['-czf', TARBALL, '-C', BUILD, 'mcp-auth-proxy'], { stdio: 'inherit' });
process.stdout.write(`package: ${OUT}\npackage: ${TARBALL}\n`);
