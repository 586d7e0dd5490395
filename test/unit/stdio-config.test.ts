// MCP_SERVER_TRANSPORT=stdio in the configuration: what a stdio server needs, what it cannot
// use, and the environment each of its processes starts from.
import assert from 'node:assert/strict';
import { ConfigError, loadConfig, type Config, type Environment } from '../../src/config/index.js';
import { checkCommand } from '../../src/mcp/stdio/command.js';

const BASE: Record<string, string> = {
  BASE_URL: 'https://proxy.example.com',
  IDENTITY_SERVER_URL: 'https://idp.example.com',
  IDENTITY_CLIENT_ID: 'proxy',
  IDENTITY_CLIENT_SECRET: 'idp-secret-value',
  MCP_SERVER_TRANSPORT: 'stdio',
  MCP_SERVER_RUN_COMMAND: 'npx',
  MCP_SERVER_RUN_ARGS_JSON: '["-y","@modelcontextprotocol/server-everything"]',
};

const load = (extra: Environment = {}): Config => loadConfig({ ...BASE, ...extra });

function refused(extra: Environment): string[] {
  try {
    load(extra);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  assert.fail('the configuration was accepted');
}

describe('configuration: stdio MCP servers', () => {
  it('needs no MCP_SERVER_URL; the endpoint is /mcp, or MCP_SERVER_URL\'s path', () => {
    const config = load();
    assert.equal(config.mcp.serverUrl, undefined);
    assert.equal(config.mcp.mountPath, '/mcp');
    assert.equal(config.mcp.resource, 'https://proxy.example.com/mcp');
    assert.equal(config.mcp.child, undefined);
    assert.equal(load({ MCP_SERVER_URL: 'http://unused.invalid/tools' }).mcp.mountPath, '/tools');
  });

  it('has the defaults the documentation gives', () => {
    const { stdio } = load().mcp;
    assert.deepEqual(
      { ...stdio, env: undefined },
      {
        command: 'npx',
        args: ['-y', '@modelcontextprotocol/server-everything'],
        cwd: undefined,
        env: undefined,
        isolation: 'session',
        tokenEnv: undefined,
        maxProcesses: 10,
        maxProcessesPerUser: 5,
        idleTimeoutMs: 600_000,
        startTimeoutMs: 30_000,
        stopTimeoutMs: 4000,
      },
    );
  });

  it('starts each process from the proxy\'s environment without its secrets, PORT or anyone\'s identity', () => {
    const { env } = load({
      PATH: '/usr/bin',
      PORT: '3001',
      MCP_USER_ID: 'someone',
      OIDC_PROVIDER_JWKS: undefined,
      MCP_SERVER_RUN_ENV_JSON: '{"API_URL":"https://api.example.com"}',
    }).mcp.stdio!;
    assert.equal(env.PATH, '/usr/bin');
    assert.equal(env.API_URL, 'https://api.example.com');
    for (const name of ['IDENTITY_CLIENT_SECRET', 'PORT', 'MCP_USER_ID']) assert.equal(env[name], undefined, name);
  });

  it('gives the token only with the user\'s credentials, and never to a shared process', () => {
    assert.equal(load({ MCP_SERVER_TOKEN_ENV: 'GITHUB_PERSONAL_ACCESS_TOKEN' }).mcp.stdio!.tokenEnv, 'GITHUB_PERSONAL_ACCESS_TOKEN');
    assert.equal(load({ MCP_SERVER_TOKEN_ENV: 'GITHUB_PERSONAL_ACCESS_TOKEN', MCP_SERVER_CREDENTIALS: 'none' }).mcp.stdio!.tokenEnv, undefined);
    assert.deepEqual(refused({ MCP_SERVER_TOKEN_ENV: 'GITHUB_PERSONAL_ACCESS_TOKEN', MCP_SERVER_STDIO_ISOLATION: 'shared' }), [
      "MCP_SERVER_TOKEN_ENV: a shared process serves everyone and gets no user's token; use MCP_SERVER_STDIO_ISOLATION=session or user",
    ]);
  });

  it('refuses what a stdio server cannot use or would be overwritten, naming the variable', () => {
    assert.deepEqual(refused({ MCP_SERVER_RUN_COMMAND: undefined }), [
      'MCP_SERVER_RUN_COMMAND: is required with MCP_SERVER_TRANSPORT=stdio (the command that starts the MCP server, e.g. npx)',
    ]);
    assert.match(refused({ MCP_SERVER_CREDENTIALS: 'static', MCP_SERVER_BEARER_TOKEN: 'x'.repeat(20) }).join('\n'), /MCP_SERVER_CREDENTIALS: static sends an Authorization header, which a stdio server never sees/);
    assert.deepEqual(refused({ MCP_SERVER_HEADERS: 'X-Api-Key: abc' }), [
      'MCP_SERVER_HEADERS: a stdio server receives no HTTP headers; give what it needs in MCP_SERVER_RUN_ENV_JSON',
    ]);
    assert.match(refused({ MCP_SERVER_TOKEN_ENV: 'PATH' })[0]!, /^MCP_SERVER_TOKEN_ENV: PATH is not free for the token/);
    assert.match(refused({ MCP_SERVER_TOKEN_ENV: 'not a name' })[0]!, /^MCP_SERVER_TOKEN_ENV: "not a name" is not an environment variable name/);
    assert.deepEqual(refused({ MCP_SERVER_TOKEN_ENV: 'TOKEN', MCP_SERVER_RUN_ENV_JSON: '{"TOKEN":"fixed"}' }), [
      "MCP_SERVER_TOKEN_ENV: TOKEN is also set in MCP_SERVER_RUN_ENV_JSON; each process gets the user's token there, remove one",
    ]);
    assert.match(refused({ MCP_SERVER_STDIO_ISOLATION: 'per-request' })[0]!, /^MCP_SERVER_STDIO_ISOLATION: must be one of session, user, shared/);
    assert.match(refused({ MCP_SERVER_STDIO_MAX_PROCESSES: '0' })[0]!, /^MCP_SERVER_STDIO_MAX_PROCESSES:/);
  });

  it('with MCP_SERVER_TRANSPORT=http, refuses the stdio settings and still needs MCP_SERVER_URL', () => {
    assert.deepEqual(refused({ MCP_SERVER_TRANSPORT: 'http', MCP_SERVER_STDIO_ISOLATION: 'user', MCP_SERVER_TOKEN_ENV: 'T' }), [
      'MCP_SERVER_URL: is required: where the MCP server listens, e.g. http://localhost:3000/mcp',
      'MCP_SERVER_STDIO_ISOLATION: applies only with MCP_SERVER_TRANSPORT=stdio (it is http)',
      'MCP_SERVER_TOKEN_ENV: applies only with MCP_SERVER_TRANSPORT=stdio (it is http)',
    ]);
  });

  it('outside production with only the stdio server given, the demo\'s sign-in stands in front of it', () => {
    const config = loadConfig({ MCP_SERVER_TRANSPORT: 'stdio', MCP_SERVER_RUN_COMMAND: 'npx', MCP_SERVER_RUN_ARGS_JSON: '["server"]' });
    assert.equal(config.demo, true);
    assert.equal(config.mcp.stdio?.command, 'npx');
    assert.deepEqual(config.mcp.stdio?.args, ['server']);
    assert.equal(config.mcp.child, undefined);
  });

  it('checks at boot that the command can run', () => {
    assert.doesNotThrow(() => checkCommand({ command: 'node', cwd: undefined, env: { PATH: process.env.PATH! } }));
    assert.doesNotThrow(() => checkCommand({ command: process.execPath, cwd: undefined, env: {} }));
    assert.throws(() => checkCommand({ command: 'node', cwd: undefined, env: { PATH: '/nonexistent' } }), /MCP_SERVER_RUN_COMMAND: node was not found on the MCP server's PATH/);
    assert.throws(() => checkCommand({ command: './server.sh', cwd: '/tmp', env: {} }), /MCP_SERVER_RUN_COMMAND: \.\/server\.sh is not an executable file/);
  });
});
