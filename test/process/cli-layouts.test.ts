// Every command line the documentation gives (README.md and docs/, `heroku run` and all), run as
// written in both layouts: this repository (`node bin/mcp-auth-proxy.js`, the standalone app) and
// the buildpack's (`node mcp-auth-proxy/index.js` in the MCP server's app). None may be a usage
// error or reach for a registry package; help shows the command as it was run.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { unpackedApp } from '../helpers/packaged-app.js';
import { freePort } from '../helpers/ports.js';
import { baseEnvironment, live, spawnProcess, stopProcess, type Env, type ProcessResult } from '../helpers/processes.js';
import { buildOnce, ROOT } from '../helpers/proxy-process.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

const REPOSITORY_TOOL = 'node bin/mcp-auth-proxy.js';
const BUILDPACK_TOOL = 'node mcp-auth-proxy/index.js';

function markdownFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return markdownFiles(path);
    return entry.name.endsWith('.md') ? [path] : [];
  });
}

// The processes themselves (Procfile, buildpack): run by test/process/package.test.ts and
// release.test.ts against real parts (here they would run for ever, or look up example.com).
const PROCESSES = new Set(['start', 'verify']);

/** The arguments of every documented command line, once each (placeholders such as <command> left out). */
function documentedCommands(): { where: string; args: string }[] {
  const found: { where: string; args: string }[] = [];
  for (const file of ['README.md', ...markdownFiles('docs')]) {
    readFileSync(join(ROOT, file), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        for (const match of line.matchAll(/node (?:bin\/mcp-auth-proxy\.js|mcp-auth-proxy\/index\.js)((?: +[^\s`)#|"]+)*)/g)) {
          const args = match[1]!.trim();
          if (args.includes('<') || args.includes('…') || args === '' || PROCESSES.has(args.split(' ')[0]!)) continue;
          if (!found.some((c) => c.args === args)) found.push({ where: `${relative(ROOT, join(ROOT, file))}:${i + 1}`, args });
        }
      });
  }
  return found;
}

describe('documented command lines, in both layouts (SLOW: packages once)', function () {
  this.timeout(60_000);
  let app: string;
  let redis: RedisServer;
  let env: Env;
  const commands = documentedCommands();

  before(async function () {
    this.timeout(300_000);
    [app] = await Promise.all([unpackedApp('cli-layouts-app-'), buildOnce()]);
    redis = await startRedis();
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    env = {
      ...baseEnvironment(),
      NODE_ENV: 'production',
      PORT: String(await freePort()),
      BASE_URL: 'https://mcp.example.com',
      MCP_SERVER_URL: 'http://localhost:3000/mcp',
      IDENTITY_SERVER_URL: 'https://identity.example.com',
      IDENTITY_CLIENT_ID: 'client',
      IDENTITY_CLIENT_SECRET: 'secret',
      MCP_AUTH_PROXY_REDIS_URL: redis.url,
      OIDC_PROVIDER_JWKS: JSON.stringify([privateKey.export({ format: 'jwk' })]),
      // The policy docs/policy.md's examples ask about.
      MCP_AUTH_PROXY_POLICY: JSON.stringify({ default: 'allow', rules: [{ name: 'contractors read only', effect: 'deny', tools: ['merge_*'], groups: ['contractors'] }] }),
    };
  });
  afterEach(async () => Promise.all([...live].map(stopProcess)));
  after(async () => {
    await redis?.stop();
    if (app) await rm(app, { recursive: true, force: true });
  });

  it('finds the command lines the documentation gives, and none sends operators to the npm registry', () => {
    const names = new Set(commands.map((c) => c.args.split(' ')[0]));
    for (const name of ['config', 'jwks', 'hash-password', 'grants', 'revoke', 'vault-reencrypt']) assert.ok(names.has(name), `no documented "${name}" command`);
    // `npx mcp-auth-proxy` outside a clone fetches whatever package has that name.
    const npx = ['README.md', ...markdownFiles('docs')].flatMap((file) =>
      readFileSync(join(ROOT, file), 'utf8')
        .split('\n')
        .map((line, i) => ({ line, where: `${file}:${i + 1}` }))
        .filter(({ line }) => line.includes('npx mcp-auth-proxy') && !line.includes('Do not use `npx mcp-auth-proxy`')),
    );
    assert.deepEqual(npx.map((l) => l.where), []);
  });

  /** Runs a documented command line; `--from -` reads the current key set from stdin, as piped from `heroku config:get`. */
  function run(tool: string, cwd: string, args: string): Promise<ProcessResult> {
    // `hash-password` reads the password from stdin, as the documentation pipes it.
    const command = args.includes('--from -')
      ? `printf '%s' "$OIDC_PROVIDER_JWKS" | ${tool} ${args}`
      : args.startsWith('hash-password')
        ? `printf '%s' 'correct horse battery staple' | ${tool} ${args}`
        : `exec ${tool} ${args}`;
    return spawnProcess('sh', ['-c', command], { cwd, env }).exited;
  }

  for (const [layout, tool, cwd] of [
    ['this repository', REPOSITORY_TOOL, () => ROOT],
    ['the buildpack layout', BUILDPACK_TOOL, () => app],
  ] as const) {
    it(`runs every one of them in ${layout} (\`${tool} …\`): no usage error, nothing unknown`, async function () {
      this.timeout(120_000);
      const failures: string[] = [];
      for (const { where, args } of commands) {
        const result = await run(tool, cwd(), args);
        // 0 done, 3 nothing matched (no such user or grant in this empty Redis).
        if (result.code !== 0 && result.code !== 3) failures.push(`${where}: \`${tool} ${args}\` exited ${result.code}\n${result.stderr}`);
      }
      assert.deepEqual(failures, []);
    });

    it(`shows help with the command as it was run in ${layout}`, async () => {
      const help = await run(tool, cwd(), 'config --help');
      assert.equal(help.code, 0);
      assert.match(help.stdout, new RegExp(`^Usage: ${tool.replaceAll('.', '\\.')} config \\[--json\\]$`, 'm'));
      assert.match(help.stdout, new RegExp(`Example \\(Heroku\\): heroku run ${tool.replaceAll('.', '\\.')} config`));
      const wrong = await run(tool, cwd(), 'grants');
      assert.equal(wrong.code, 2);
      assert.match(wrong.stderr, new RegExp(`Run \`${tool.replaceAll('.', '\\.')} grants --help\` for more\\.`));
    });
  }
});
