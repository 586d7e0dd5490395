// Attacker (or bad luck): Redis refuses one kind of command at a time, through its ACLs, while
// clients register, sign in, redeem, refresh, call /mcp and revoke. Whatever fails and however
// ioredis reports it (the command's arguments, a transaction's `previousErrors`), no secret of
// the run reaches a log line: tokens, codes, cookies, the upstream token, states.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { RedisStore } from '../../src/storage/redis-store.js';
import { redeemCode, registerPublicClient, signInForCode } from '../helpers/sign-in.js';
import { startStack, type Stack } from '../helpers/stack.js';

const REDIRECT = 'http://127.0.0.1:45711/cb';

/**
 * Key kinds whose id is a credential or the value of a cookie (grant, account and client ids are
 * not: logs name them on purpose).
 */
const CREDENTIAL_KEY = /\b(?:AccessToken|RefreshToken|AuthorizationCode|DeviceCode|Session|Interaction|RegistrationAccessToken|ClientCredentials|PushedAuthorizationRequest|BackchannelAuthenticationRequest|userCode|uid|upstream-state|upstream-sign-in|csrf|consent-ask-again):([\w-]{8,})/g;

/** Every command RedisStore sends (src/storage/redis-store.ts), transactions included. */
const COMMANDS = ['get', 'set', 'getdel', 'expire', 'expireat', 'del', 'incr', 'zadd', 'zremrangebyscore', 'zrangebyscore', 'zrem', 'publish', 'exec'];

interface Materials {
  clientId: string;
  verifier: string;
  code?: string;
  accessToken?: string;
  refreshToken?: string;
}

describe('Redis refusing each kind of command: nothing secret in the logs', function () {
  this.timeout(120_000);
  let stack: Stack;
  let admin: Redis;
  const secrets = new Set<string>();
  const keep = (value: string | null | undefined) => {
    if (value && value.length >= 8) secrets.add(value);
  };

  const form = (path: string, body: Record<string, string>) =>
    fetch(`${stack.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body) });

  async function register(): Promise<string | undefined> {
    const { status, clientId, body } = await registerPublicClient(stack.baseUrl, REDIRECT, 'Refusals');
    keep(body.registration_access_token as string | undefined);
    return status === 201 ? clientId : undefined;
  }

  /** Signs in through confirm and the IdP; the code, or undefined where storage refused a step. */
  async function signIn(clientId: string): Promise<{ code?: string; verifier: string }> {
    const state = randomBytes(16).toString('base64url');
    keep(state);
    const { code, verifier: used, browser } = await signInForCode(stack.baseUrl, clientId, REDIRECT, { extra: { state } });
    for (const { line } of browser.setCookies) keep(/^[^=]+=([^;]*)/.exec(line)?.[1]);
    for (const url of browser.history) for (const [name, value] of new URL(url).searchParams) if (/code|state|uid/.test(name)) keep(value);
    return { ...(code ? { code } : {}), verifier: used };
  }

  async function redeem(clientId: string, code: string, verifier: string): Promise<{ access_token?: string; refresh_token?: string }> {
    const response = await redeemCode(stack.baseUrl, clientId, REDIRECT, code, verifier);
    const body = (await response.json()) as { access_token?: string; refresh_token?: string };
    keep(body.access_token);
    keep(body.refresh_token);
    return body;
  }

  /** A client with a code not yet redeemed and tokens not yet used, made while Redis is whole. */
  async function prepare(): Promise<Materials> {
    const clientId = (await register())!;
    const signedIn = await signIn(clientId);
    const first = await redeem(clientId, signedIn.code!, signedIn.verifier);
    assert.ok(first.refresh_token, 'prepared while Redis is whole');
    const unredeemed = await signIn(clientId);
    return { clientId, verifier: unredeemed.verifier, code: unredeemed.code, accessToken: first.access_token, refreshToken: first.refresh_token };
  }

  /** Every kind of request that writes or reads storage, each allowed to fail. */
  async function workload(m: Materials): Promise<void> {
    const attempts: (() => Promise<unknown>)[] = [
      () => register(),
      () => signIn(m.clientId),
      () => redeem(m.clientId, m.code!, m.verifier),
      async () => {
        const body = (await (await form('/token', { grant_type: 'refresh_token', refresh_token: m.refreshToken!, client_id: m.clientId })).json()) as Record<string, string>;
        keep(body.access_token);
        keep(body.refresh_token);
      },
      async () => {
        const response = await fetch(`${stack.mcpUrl}/headers`, { headers: { authorization: `Bearer ${m.accessToken}` } });
        if (response.ok) keep(((await response.json()) as { authorization?: string }).authorization?.replace(/^Bearer /, ''));
      },
      () =>
        fetch(stack.mcpUrl, {
          method: 'POST',
          headers: { authorization: `Bearer ${m.accessToken}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }),
        }).then(async (r) => keep(r.headers.get('mcp-session-id')) ?? (await r.text())),
      () => form('/token/revocation', { token: m.refreshToken!, client_id: m.clientId }),
      () => form('/device/auth', { client_id: m.clientId }).then(async (r) => (await r.text()).length),
    ];
    for (const attempt of attempts) await attempt().catch(() => undefined);
  }

  before(async () => {
    stack = await startStack();
    admin = new Redis(stack.redis.url);
    // Every id the proxy sends to Redis as part of a credential's key, whether the command
    // succeeds or not (a token whose write fails was never issued, and is still not for a log).
    const client = (stack.proxy.store as RedisStore).client;
    const send = client.sendCommand.bind(client);
    client.sendCommand = ((command: { args: unknown[] }, ...rest: unknown[]) => {
      for (const arg of command.args) for (const [, id] of String(arg).matchAll(CREDENTIAL_KEY)) keep(id);
      return (send as (...a: unknown[]) => unknown)(command, ...rest);
    }) as typeof client.sendCommand;
    // The upstream tokens of the test user (what the MCP server receives) are secrets too.
    await workload(await prepare());
  });
  after(async () => {
    admin?.disconnect();
    await stack?.stop();
  });

  for (const command of COMMANDS) {
    it(`${command.toUpperCase()} refused: requests fail cleanly, and the log holds no secret`, async () => {
      const materials = await prepare();
      const logged = stack.logs.length;
      await admin.call('ACL', 'SETUSER', 'default', `-${command}`);
      try {
        await workload(materials);
      } finally {
        await admin.call('ACL', 'SETUSER', 'default', '+@all');
      }
      const lines = stack.logs.slice(logged);
      assert.ok(
        lines.some((line) => line.includes('NOPERM') || line.includes('EXECABORT')),
        `the refusal of ${command} is logged:\n${lines.filter((l) => /"level":(40|50)/.test(l)).join('\n')}`,
      );
      for (const secret of secrets) {
        const leak = stack.logs.find((line) => line.includes(secret));
        assert.equal(leak, undefined, `a secret (${secret.slice(0, 4)}…) in the log`);
      }
    });
  }

  it('found secrets of every kind to look for', () => {
    // Tokens, codes, the upstream token, cookies and states: a grep for nothing proves nothing.
    assert.ok(secrets.size > 40, `${secrets.size} secrets`);
  });
});
