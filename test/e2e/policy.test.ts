// MCP_AUTH_PROXY_POLICY on the wire (MCP_SERVER_TRANSPORT=http), with the real SDK client: a denied
// tool is missing from tools/list (JSON and SSE answers) and its call gets a JSON-RPC error
// without reaching the MCP server; group and domain rules from the IdP's claims; batches; the
// 2026-07-28 Mcp-Method / Mcp-Name headers; the minimal policy, verbatim.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { hashPassword } from '../../src/identity/local-sign-in.js';
import { connectWithOAuth, TestOAuthProvider } from '../helpers/mcp-client.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { parsePrometheus, sampleValue } from '../helpers/prometheus.js';
import { until } from '../helpers/wait.js';
import { startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';
import { disconnect, signedIn, stdioEnv } from '../helpers/stdio.js';
import { OTHER_USER, TEST_USER } from '../helpers/upstream-idp.js';

const MCP_ACCEPT = 'application/json, text/event-stream';

// user-1 (alice, group staff, example.com) may not call whoami; nobody of example.com may echo
// "secret" tools; bob (a contractor by group) may not echo.
const POLICY = {
  default: 'allow',
  rules: [
    { name: 'no whoami for alice', effect: 'deny', tools: ['whoami'], users: [TEST_USER.sub] },
    { name: 'contractors', effect: 'deny', tools: ['ec*'], groups: ['contractors'] },
    { effect: 'deny', prompts: ['*'], domains: ['example.com'] },
  ],
};

const callLines = (stack: Stack, tool: string) => stack.logs.filter((line) => line.includes(`mcp fixture tools/call ${tool}`)).length;

async function post(stack: Stack, token: string, body: unknown, headers: Record<string, string> = {}): Promise<{ res: Response; messages: Record<string, unknown>[] }> {
  const res = await fetch(stack.mcpUrl, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: MCP_ACCEPT, ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  const parsed = type.startsWith('text/event-stream')
    ? text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as Record<string, unknown>)
    : ([] as Record<string, unknown>[]).concat(JSON.parse(text) as Record<string, unknown>);
  return { res, messages: parsed };
}

interface AuditLine {
  audit: string;
  accountId: string;
  clientId: string;
  sessionId?: string;
  method: string;
  tool: string;
  allowed: boolean;
  outcome: string;
  durationMs: number;
  arguments?: unknown;
  result?: unknown;
}

const auditLines = (stack: Stack): AuditLine[] =>
  stack.logs.map((line) => JSON.parse(line) as Partial<AuditLine>).filter((line): line is AuditLine => line.audit === 'tool.call');

const toolNames = (client: Client) => client.listTools().then(({ tools }) => tools.map((t) => t.name).sort());

for (const json of [false, true]) {
  describe(`policy on the HTTP path (the MCP server answers ${json ? 'plain JSON' : 'SSE'})`, function () {
    this.timeout(60_000);
    let stack: Stack;
    let dir: string;
    let alice: Client;
    let aliceToken: string;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'policy-e2e-'));
      const file = join(dir, 'policy.json');
      await writeFile(file, JSON.stringify(POLICY));
      stack = await startStack({
        telemetry: true,
        env: { MCP_AUTH_PROXY_POLICY: file, MCP_AUTH_PROXY_METRICS_PATH: '/metrics', ...(json ? { MCP_AUTH_PROXY_AUDIT_ARGUMENTS: 'true' } : {}) },
        mcpEnv: { MCP_FIXTURE_LOG_CALLS: 'true', ...(json ? { MCP_FIXTURE_JSON_RESPONSE: 'true' } : {}) },
      });
      const auth = signedIn(TEST_USER);
      alice = await connectWithOAuth(stack.mcpUrl, auth);
      aliceToken = auth.savedTokens!.access_token;
    });
    after(async () => {
      await alice?.close();
      await stack?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    it('hides a denied tool from tools/list, and answers its call with a JSON-RPC error that never reaches the MCP server', async () => {
      assert.deepEqual(await toolNames(alice), ['echo']);
      const before = callLines(stack, 'whoami');
      await assert.rejects(
        alice.callTool({ name: 'whoami', arguments: {} }),
        (err: Error) => err instanceof McpError && err.code === -32003 && /Denied by this server's policy: you may not use the tool whoami/.test(err.message),
      );
      assert.equal(callLines(stack, 'whoami'), before, 'the denied call reached the MCP server');
      // An allowed one works, and reaches it.
      const echoed = await alice.callTool({ name: 'echo', arguments: { text: 'allowed' } });
      assert.deepEqual(echoed.content, [{ type: 'text', text: 'allowed' }]);
      assert.ok(callLines(stack, 'echo') > 0);
    });

    it('audits every tool call: one line each (allowed or denied, outcome, duration), metrics per tool', async () => {
      const before = auditLines(stack).length;
      await assert.rejects(alice.callTool({ name: 'whoami', arguments: { token: 'not-for-logs-123456' } }));
      await alice.callTool({ name: 'echo', arguments: { text: 'audited', api_key: 'not-for-logs-abcdef' } });
      const lines = auditLines(stack).slice(before);
      assert.equal(lines.length, 2, JSON.stringify(lines));
      const [denied, allowed] = lines as [AuditLine, AuditLine];
      assert.deepEqual(
        { tool: denied.tool, allowed: denied.allowed, outcome: denied.outcome, accountId: denied.accountId, method: denied.method },
        { tool: 'whoami', allowed: false, outcome: 'denied', accountId: TEST_USER.sub, method: 'tools/call' },
      );
      assert.deepEqual({ tool: allowed.tool, allowed: allowed.allowed, outcome: allowed.outcome }, { tool: 'echo', allowed: true, outcome: 'result' });
      assert.equal(typeof allowed.durationMs, 'number');
      assert.ok(allowed.clientId);
      // Never a secret; arguments only when asked for, and then redacted.
      const text = stack.logs.join('\n');
      assert.ok(!text.includes('not-for-logs'), 'an argument that looks secret reached the log');
      if (json) {
        assert.deepEqual(allowed.arguments, { text: 'audited', api_key: '[redacted]' });
        assert.deepEqual(allowed.result, { content: [{ type: 'text', text: 'audited' }] });
      } else {
        assert.equal(allowed.arguments, undefined);
        assert.equal(allowed.result, undefined);
      }
      const samples = parsePrometheus(await (await fetch(`${stack.baseUrl}/metrics`)).text());
      assert.ok(sampleValue(samples, 'mcp_auth_proxy_tool_calls_total', { tool: 'echo', outcome: 'result' }) >= 1);
      assert.ok(sampleValue(samples, 'mcp_auth_proxy_tool_denials_total', { tool: 'whoami' }) >= 1);
      assert.ok(sampleValue(samples, 'mcp_auth_proxy_tool_duration_count', { tool: 'echo' }) >= 1);
    });

    it('applies group rules from the IdP\'s claims (bob, a contractor) and leaves others alone', async () => {
      stack.idp.setUserClaims({ groups: ['staff'] });
      const bobAuth = signedIn(OTHER_USER);
      // The test IdP's claim overrides apply to its test user only; bob's groups come from his account.
      const bob = await connectWithOAuth(stack.mcpUrl, bobAuth);
      try {
        assert.deepEqual(await toolNames(bob), ['echo', 'whoami']);
      } finally {
        await bob.close();
      }
      stack.idp.setUserClaims({ groups: ['contractors'] });
      const contractor = await connectWithOAuth(stack.mcpUrl, signedIn(TEST_USER));
      try {
        // Alice signed in again, now a contractor: neither echo nor whoami.
        assert.deepEqual(await toolNames(contractor), []);
      } finally {
        await contractor.close();
        stack.idp.setUserClaims({ groups: ['staff'] });
      }
    });

    it('decides each request of a batch: the denied get errors with their ids, the rest is answered', async () => {
      const before = callLines(stack, 'whoami');
      const { res, messages } = await post(stack, aliceToken, [
        { jsonrpc: '2.0', id: 'a', method: 'tools/call', params: { name: 'whoami', arguments: {} } },
        { jsonrpc: '2.0', id: 'b', method: 'tools/list' },
        { jsonrpc: '2.0', id: 'c', method: 'prompts/get', params: { name: 'anything' } },
      ]);
      // The fixture's SDK (2025-06-18 and later) refuses batches itself; what matters is what reached it.
      assert.ok([200, 400].includes(res.status), String(res.status));
      const denied = messages.filter((m) => (m.error as { code?: number } | undefined)?.code === -32003).map((m) => m.id);
      if (res.status === 200) assert.deepEqual(denied.sort(), ['a', 'c']);
      assert.equal(callLines(stack, 'whoami'), before);
      // All of a batch denied: answered by the proxy alone.
      const all = await post(stack, aliceToken, [
        { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami' } },
        { jsonrpc: '2.0', id: 2, method: 'prompts/get', params: { name: 'x' } },
      ]);
      assert.equal(all.res.status, 200);
      assert.deepEqual(all.messages.map((m) => [m.id, (m.error as { code: number }).code]), [[1, -32003], [2, -32003]]);
    });

    it('2026-07-28: a request declaring a denied tool in Mcp-Method / Mcp-Name is refused, whatever its body says', async () => {
      const before = callLines(stack, 'echo');
      const { res, messages } = await post(
        stack,
        aliceToken,
        { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } },
        { 'mcp-method': 'tools/call', 'mcp-name': 'whoami', 'mcp-protocol-version': '2025-11-25' },
      );
      assert.equal(res.status, 200);
      assert.deepEqual(messages[0]?.id, 9);
      assert.equal((messages[0]?.error as { code: number }).code, -32003);
      assert.equal(callLines(stack, 'echo'), before);
      // Declared and asked for alike, allowed: it goes through.
      const ok = await post(
        stack,
        aliceToken,
        { jsonrpc: '2.0', id: 10, method: 'tools/call', params: { name: 'echo', arguments: { text: 'y' } } },
        { 'mcp-method': 'tools/call', 'mcp-name': 'echo', 'mcp-protocol-version': '2025-11-25' },
      );
      assert.deepEqual((ok.messages[0]?.result as { content: unknown }).content, [{ type: 'text', text: 'y' }]);
    });
  });
}

describe('policy: the issue\'s minimal form, verbatim, for a local account named tester', function () {
  this.timeout(60_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack({
      env: {
        IDENTITY_PROVIDER: 'local',
        IDENTITY_LOCAL_USERS: `tester:${await hashPassword('a long enough password')},other:${await hashPassword('another long password')}`,
        MCP_AUTH_PROXY_POLICY: '{"default":"allow","rules":[{"effect":"deny","tools":["whoami"],"users":["tester"]}]}',
      },
      mcpEnv: { MCP_FIXTURE_TOKEN_CHECK_URL: '' },
    });
  });
  after(async () => stack?.stop());

  it('denies whoami to tester, and to nobody else', async () => {
    const as = (username: string, password: string) => {
      const auth = new TestOAuthProvider();
      auth.credentials = { username, password };
      return connectWithOAuth(stack.mcpUrl, auth);
    };
    const tester = await as('tester', 'a long enough password');
    const other = await as('other', 'another long password');
    try {
      assert.deepEqual(await toolNames(tester), ['echo']);
      await assert.rejects(tester.callTool({ name: 'whoami', arguments: {} }), /Denied by this server's policy/);
      assert.deepEqual(await toolNames(other), ['echo', 'whoami']);
    } finally {
      await tester.close();
      await other.close();
    }
  });
});

describe('policy in front of a stdio server (server-everything)', function () {
  this.timeout(60_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack({
      env: stdioEnv({
        MCP_AUTH_PROXY_POLICY: JSON.stringify({ default: 'allow', rules: [{ effect: 'deny', tools: ['get-env', 'trigger-*'], users: [TEST_USER.sub] }] }),
      }),
    });
  });
  after(async () => stack?.stop());

  it('hides the denied tools, refuses their calls, and lets the rest through; stateless requests alike', async () => {
    const auth = signedIn(TEST_USER);
    const alice = await connectWithOAuth(stack.mcpUrl, auth);
    try {
      const names = await toolNames(alice);
      assert.ok(names.includes('echo'));
      assert.deepEqual(names.filter((n) => n === 'get-env' || n.startsWith('trigger-')), []);
      await assert.rejects(alice.callTool({ name: 'get-env', arguments: {} }), (err: Error) => err instanceof McpError && err.code === -32003);
      assert.deepEqual((await alice.callTool({ name: 'echo', arguments: { message: 'hi' } })).content, [{ type: 'text', text: 'Echo: hi' }]);
      const stateless = await post(stack, auth.savedTokens!.access_token, { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'get-env', arguments: {} } });
      assert.equal((stateless.messages[0]?.error as { code: number }).code, -32003);
      // A stdio server's calls are audited too (its messages are read anyway).
      const lines = auditLines(stack).map((l) => [l.tool, l.outcome, typeof l.sessionId]);
      assert.deepEqual(lines, [
        ['get-env', 'denied', 'string'],
        ['echo', 'result', 'string'],
        ['get-env', 'denied', 'undefined'],
      ]);
    } finally {
      await disconnect(alice);
    }
    const bob = await connectWithOAuth(stack.mcpUrl, signedIn(OTHER_USER));
    try {
      assert.ok((await toolNames(bob)).includes('get-env'));
    } finally {
      await disconnect(bob);
    }
  });
});

describe('the tool-call audit without a policy', function () {
  this.timeout(60_000);

  it('auto: off for an HTTP server without a policy (its bodies are not read)', async () => {
    const stack = await startStack();
    try {
      const client = await connectWithOAuth(stack.mcpUrl, new TestOAuthProvider());
      await client.callTool({ name: 'echo', arguments: { text: 'x' } });
      await client.close();
      assert.deepEqual(auditLines(stack), []);
    } finally {
      await stack.stop();
    }
  });

  it('true: every call audited, a call whose client left as a transport error', async () => {
    const stack = await startStack({ env: { MCP_AUTH_PROXY_AUDIT_TOOL_CALLS: 'true' }, mcpEnv: { MCP_FIXTURE_EXTRA_TOOLS: 'true' } });
    try {
      const auth = new TestOAuthProvider();
      const client = await connectWithOAuth(stack.mcpUrl, auth);
      await client.callTool({ name: 'echo', arguments: { text: 'x' } });
      await client.close();
      // A call that never gets its answer: the client gives up first.
      const abort = new AbortController();
      const res = await fetch(stack.mcpUrl, {
        method: 'POST',
        headers: { authorization: `Bearer ${auth.savedTokens!.access_token}`, 'content-type': 'application/json', accept: MCP_ACCEPT },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'progress', arguments: { steps: 2, intervalMs: 60_000 }, _meta: { progressToken: 1 } } }),
        signal: abort.signal,
      });
      assert.equal(res.status, 200);
      abort.abort();
      await until(() => auditLines(stack).length === 2, 'the abandoned call is audited');
      assert.deepEqual(auditLines(stack).map((l) => [l.tool, l.allowed, l.outcome]), [
        ['echo', true, 'result'],
        ['progress', true, 'transport_error'],
      ]);
    } finally {
      await stack.stop();
    }
  });
});

describe('audit lines exported as OpenTelemetry log records (OTEL_LOGS_EXPORTER=otlp)', function () {
  this.timeout(60_000);
  const OTEL = ['OTEL_LOGS_EXPORTER', 'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT', 'OTEL_EXPORTER_OTLP_LOGS_PROTOCOL'];
  let receiver: OtlpReceiver;

  before(async () => (receiver = await startOtlpReceiver()));
  after(async () => {
    // The SDK reads OTEL_* from process.env, where the stack put them: later suites must not see them.
    for (const name of OTEL) delete process.env[name];
    await receiver?.stop();
  });

  it('sends grant and tool-call audit lines to the OTLP endpoint, the other logs staying on stdout', async () => {
    const stack = await startStack({
      telemetry: true,
      env: {
        OTEL_LOGS_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: `${receiver.url}/v1/logs`,
        OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'http/json',
        MCP_AUTH_PROXY_POLICY: JSON.stringify({ rules: [{ effect: 'deny', tools: ['whoami'] }] }),
      },
    });
    try {
      const client = await connectWithOAuth(stack.mcpUrl, new TestOAuthProvider());
      await assert.rejects(client.callTool({ name: 'whoami', arguments: {} }));
      await client.callTool({ name: 'echo', arguments: { text: 'x' } });
      await client.close();
    } finally {
      // Shutdown flushes what is pending.
      await stack.stop();
    }
    const records = receiver.logs.map((r) => [r.body, r.attributes.audit, r.attributes.tool, r.attributes.outcome]);
    assert.deepEqual(records, [
      ['grant created', 'grant.created', undefined, undefined],
      ['tool call', 'tool.call', 'whoami', 'denied'],
      ['tool call', 'tool.call', 'echo', 'result'],
    ]);
    assert.equal(receiver.logs[0]!.resource['service.name'], 'unnamed_mcp_remote_auth_proxy');
    assert.equal(receiver.logs[1]!.attributes.accountId, TEST_USER.sub);
  });
});
