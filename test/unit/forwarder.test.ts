// The /mcp forwarder on its own, without Express: a real upstream HTTP server whose behaviour each
// test sets, a plain Node server in front that hands every request to the forwarder, and a Node
// client that can stop sending or go away at any moment.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import type { McpServerCredentials } from '../../src/config/types.js';
import { problems, writeProblem } from '../../src/http/problems.js';
import type { UpstreamTokens } from '../../src/identity/vault.js';
import type { McpCaller } from '../../src/mcp/caller.js';
import { McpForwarder, type UpstreamTokenRefresher } from '../../src/mcp/forwarder.js';
import { McpSessionBindings } from '../../src/mcp/session-binding.js';
import { MemoryStore } from '../../src/storage/memory-store.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface Seen {
  method: string | undefined;
  url: string | undefined;
  authorization: string | undefined;
  body: string;
}

const caller: McpCaller = {
  grantId: 'grant-1',
  clientId: 'client-1',
  accountId: 'user-1',
  email: 'user@example.test',
  groups: [],
  scope: 'mcp',
  upstream: { accessToken: 'stale-upstream', refreshToken: 'upstream-refresh' },
};

const listen = async (server: http.Server): Promise<number> => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
};

const readBody = async (stream: IncomingMessage): Promise<string> => {
  let text = '';
  for await (const chunk of stream) text += String(chunk);
  return text;
};

describe('McpForwarder (no Express)', () => {
  let upstream: http.Server;
  let front: http.Server;
  let upstreamPort: number;
  let frontPort: number;
  let handler: Handler;
  let seen: Seen[];
  let refreshes: UpstreamTokens[];
  let refreshWith: () => Promise<UpstreamTokens | undefined>;
  let challenges: string[];
  let released: (() => void)[];
  let store: MemoryStore;
  let forwarder: McpForwarder;
  let forwards: Promise<void>[];

  const build = (credentials: McpServerCredentials = { mode: 'user', headers: {} }, maxBodyBytes = 1024): McpForwarder =>
    new McpForwarder({
      target: new URL(`http://127.0.0.1:${upstreamPort}/mcp`),
      maxBodyBytes,
      refreshSkewMs: 0,
      forwarded: {
        identity: { send: true, userId: 'x-mcp-user-id', userEmail: 'x-mcp-user-email', clientId: 'x-mcp-client-id' },
        scope: { source: 'none', identityScope: '' },
        credentials,
        publicOrigin: new URL('https://proxy.example.test'),
      },
      refresher: {
        refresh: async (_grantId, stale) => {
          refreshes.push(stale);
          return refreshWith();
        },
      } satisfies UpstreamTokenRefresher,
      sessions: new McpSessionBindings(store, 60),
      streams: { releasable: (_res, end) => released.push(end) },
      logger: pino({ level: 'silent' }),
      challenge: (res, description) => {
        challenges.push(description);
        writeProblem(res, problems.bearer('Bearer error="invalid_token"', 'invalid_token', description));
      },
    });

  beforeEach(async () => {
    seen = [];
    refreshes = [];
    challenges = [];
    released = [];
    forwards = [];
    refreshWith = async () => ({ accessToken: 'fresh-upstream' });
    handler = (_req, res) => res.end('{}');
    store = new MemoryStore();
    upstream = http.createServer((req, res) => {
      const record: Seen = { method: req.method, url: req.url, authorization: req.headers.authorization, body: '' };
      seen.push(record);
      // The handler answers; the body is recorded as it arrives (a handler may answer first).
      req.on('data', (chunk: Buffer) => (record.body += String(chunk)));
      handler(req, res);
    });
    upstreamPort = await listen(upstream);
    forwarder = build();
    front = http.createServer((req, res) => {
      const path = req.url!.replace(/^\/mcp/, '') || '/';
      forwards.push(forwarder.forward({ req, res, caller, path, clientIp: '203.0.113.9' }));
    });
    frontPort = await listen(front);
  });

  afterEach(async () => {
    forwarder.close();
    front.closeAllConnections();
    upstream.closeAllConnections();
    await Promise.all([new Promise((r) => front.close(r)), new Promise((r) => upstream.close(r))]);
    await store.close();
  });

  /** Starts a request to the front server; the caller writes the body and ends it. */
  const open = (method: string, path = '/mcp', headers: http.OutgoingHttpHeaders = {}): http.ClientRequest =>
    http.request({ host: '127.0.0.1', port: frontPort, method, path, headers: { authorization: 'Bearer client-token', ...headers }, agent: false });

  const call = async (method: string, body?: string, headers: http.OutgoingHttpHeaders = {}): Promise<{ res: IncomingMessage; text: string }> => {
    const req = open(method, '/mcp', { 'content-type': 'application/json', ...headers });
    req.end(body);
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    return { res, text: await readBody(res) };
  };

  it('forwards the request as the caller, with the upstream token and never the client token', async () => {
    handler = (req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*' }).end('{"ok":true}'));
    };
    const { res, text } = await call('POST', '{"jsonrpc":"2.0","id":1,"method":"ping"}');
    assert.equal(res.statusCode, 200);
    assert.equal(text, '{"ok":true}');
    assert.equal(res.headers['access-control-allow-origin'], undefined, "the MCP server's CORS is not passed on");
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.url, '/mcp');
    assert.equal(seen[0]!.authorization, 'Bearer stale-upstream');
    assert.equal(seen[0]!.body, '{"jsonrpc":"2.0","id":1,"method":"ping"}');
    assert.equal(refreshes.length, 0);
  });

  it('refreshes once after a 401 and replays the same body with the fresh token', async () => {
    handler = (req, res) => {
      if (req.headers.authorization === 'Bearer stale-upstream') return void res.writeHead(401).end();
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"replayed":true}'));
    };
    const { res, text } = await call('POST', '{"id":7}');
    assert.equal(res.statusCode, 200);
    assert.equal(text, '{"replayed":true}');
    assert.equal(refreshes.length, 1);
    assert.equal(refreshes[0]!.accessToken, 'stale-upstream');
    assert.deepEqual(
      seen.map((s) => s.authorization),
      ['Bearer stale-upstream', 'Bearer fresh-upstream'],
    );
    assert.equal(seen[1]!.body, '{"id":7}');
  });

  it('answers a bearer challenge when the MCP server refuses the fresh token too (401 twice), without a second refresh', async () => {
    handler = (_req, res) => res.writeHead(401).end();
    const { res, text } = await call('POST', '{"id":1}');
    assert.equal(res.statusCode, 401);
    assert.match(String(res.headers['www-authenticate']), /invalid_token/);
    assert.equal(JSON.parse(text).error, 'invalid_token');
    assert.equal(refreshes.length, 1);
    assert.equal(seen.length, 2);
    assert.deepEqual(challenges, ['The MCP server refused the upstream credentials']);
  });

  it('asks the client to sign in again when the identity provider ended the session, and to retry later when it is down', async () => {
    handler = (_req, res) => res.writeHead(401).end();
    refreshWith = async () => undefined;
    const ended = await call('POST', '{}');
    assert.equal(ended.res.statusCode, 401);
    assert.deepEqual(challenges, ['The session with the identity provider ended; sign in again']);
    assert.equal(seen.length, 1, 'nothing is replayed without fresh tokens');

    refreshWith = async () => {
      throw new Error('IdP down');
    };
    const outage = await call('POST', '{}');
    assert.equal(outage.res.statusCode, 503);
    assert.equal(outage.res.headers['retry-after'], '30');
    assert.equal(JSON.parse(outage.text).error, 'temporarily_unavailable');
  });

  it('cuts off a body that grows past the cap mid-stream: 413 to the client, the upstream request stopped', async () => {
    let upstreamEnded = false;
    const upstreamClosed = new Promise<void>((resolve) => {
      handler = (req) => {
        req.on('end', () => (upstreamEnded = true));
        req.on('close', () => resolve());
        req.resume();
      };
    });
    const req = open('POST', '/mcp', { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    req.write('x'.repeat(600));
    await once(upstream, 'request');
    req.write('x'.repeat(600));
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    const text = await readBody(res);
    assert.equal(res.statusCode, 413);
    assert.equal(JSON.parse(text).error, 'payload_too_large');
    await upstreamClosed;
    assert.equal(upstreamEnded, false, 'the MCP server never saw a complete request');
    assert.ok(seen[0]!.body.length <= 1024);
    req.destroy();
  });

  it('stops the upstream request when the client goes away before the answer', async () => {
    const upstreamClosed = new Promise<void>((resolve) => {
      handler = (req) => {
        req.resume();
        req.on('close', () => resolve());
      };
    });
    const req = open('POST', '/mcp', { 'content-type': 'application/json' });
    req.on('error', () => {});
    req.end('{"id":1}');
    await once(upstream, 'request');
    req.destroy();
    await upstreamClosed;
    await Promise.all(forwards);
  });

  it('streams events as they come, flushes the head before the first event, and stops the upstream stream when the client leaves', async () => {
    let upstreamRes!: ServerResponse;
    handler = (req, res) => {
      req.resume();
      upstreamRes = res;
      // As the MCP SDK does: the head goes out at once, before any event.
      res.writeHead(200, { 'content-type': 'text/event-stream' }).flushHeaders();
    };
    const req = open('POST', '/mcp', { 'content-type': 'application/json' });
    req.end('{"id":1}');
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    assert.equal(res.statusCode, 200, 'the head arrives while no event has been sent');
    assert.equal(res.headers['x-accel-buffering'], 'no');
    upstreamRes.write('data: one\n\n');
    const [chunk] = (await once(res, 'data')) as [Buffer];
    assert.equal(String(chunk), 'data: one\n\n');
    const upstreamGone = once(upstreamRes, 'close');
    res.destroy();
    await upstreamGone;
    assert.equal(released.length, 0, 'a POST response stream is not a standalone stream');
  });

  it('hands standalone GET streams to the drain, which ends them cleanly on shutdown', async () => {
    let upstreamRes!: ServerResponse;
    handler = (_req, res) => {
      upstreamRes = res;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: hello\n\n');
    };
    const req = open('GET', '/mcp', { accept: 'text/event-stream' });
    req.end();
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    const body = readBody(res);
    await Promise.all(forwards);
    assert.equal(released.length, 1);
    const upstreamGone = once(upstreamRes, 'close');
    released[0]!();
    assert.equal(await body, 'data: hello\n\n', 'the client sees a clean end, not a cut connection');
    await upstreamGone;
  });

  it('answers 502 when the MCP server cannot be reached, and cuts the response when it fails after the head', async () => {
    const reachable = upstreamPort;
    upstream.close();
    upstream.closeAllConnections();
    await once(upstream, 'close');
    const unreachable = await call('POST', '{}');
    assert.equal(unreachable.res.statusCode, 502);
    assert.equal(JSON.parse(unreachable.text).error, 'bad_gateway');

    upstream.listen(reachable, '127.0.0.1');
    await once(upstream, 'listening');
    handler = (req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"partial":');
      setImmediate(() => res.destroy());
    };
    const req = open('POST', '/mcp', { 'content-type': 'application/json' });
    req.end('{}');
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    assert.equal(res.statusCode, 200);
    await assert.rejects(readBody(res), /aborted|ECONNRESET/, 'a truncated answer is cut, not completed or followed by a 502');
  });

  it('binds a new MCP session to the caller before the client hears of it, and answers 503 when it cannot', async () => {
    handler = (req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'session-abc' }).end('{}');
    };
    const bound = await call('POST', '{"method":"initialize"}');
    assert.equal(bound.res.headers['mcp-session-id'], 'session-abc');
    assert.deepEqual(await new McpSessionBindings(store, 60).owner('session-abc'), { accountId: 'user-1', clientId: 'client-1' });

    store.set = async () => {
      throw new Error('store down');
    };
    handler = (req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'session-def' }).end('{}');
    };
    const refused = await call('POST', '{"method":"initialize"}');
    assert.equal(refused.res.statusCode, 503);
    assert.equal(refused.res.headers['mcp-session-id'], undefined, 'no session the client could not use');
    assert.equal(refused.res.headers['retry-after'], '5');
  });

  it('refreshes before sending when the upstream token is about to expire', async () => {
    const expiring: McpCaller = { ...caller, upstream: { ...caller.upstream, expiresAt: Math.floor(Date.now() / 1000) } };
    front.removeAllListeners('request');
    front.on('request', (req: IncomingMessage, res: ServerResponse) => {
      forwards.push(forwarder.forward({ req, res, caller: expiring, path: '/', clientIp: undefined }));
    });
    handler = (req, res) => {
      req.resume();
      res.end('{}');
    };
    const { res } = await call('POST', '{}');
    assert.equal(res.statusCode, 200);
    assert.equal(refreshes.length, 1);
    assert.deepEqual(
      seen.map((s) => s.authorization),
      ['Bearer fresh-upstream'],
    );
  });

  describe('with the operator\'s credentials (MCP_SERVER_CREDENTIALS)', () => {
    /** Replaces the forwarder the front server uses. */
    const use = (credentials: McpServerCredentials) => {
      forwarder.close();
      forwarder = build(credentials);
    };

    it('static: sends the configured token and headers instead of the user\'s, whatever the client sent', async () => {
      use({ mode: 'static', bearerToken: 'operator-token', headers: { 'x-api-key': 'k-123' } });
      const headers: http.IncomingHttpHeaders[] = [];
      handler = (req, res) => {
        headers.push(req.headers);
        req.resume();
        res.end('{}');
      };
      const { res } = await call('POST', '{}', { 'x-api-key': 'from-the-client' });
      assert.equal(res.statusCode, 200);
      assert.equal(seen[0]!.authorization, 'Bearer operator-token');
      assert.equal(headers[0]!['x-api-key'], 'k-123');
      assert.equal(headers[0]!['x-mcp-user-id'], 'user-1', 'identity headers go out in every mode');
      assert.equal(headers[0]!['x-mcp-identity-provider'], undefined, 'one provider: not told');
    });

    it('none: sends no Authorization at all', async () => {
      use({ mode: 'none', headers: {} });
      handler = (req, res) => {
        req.resume();
        res.end('{}');
      };
      await call('POST', '{}');
      assert.equal(seen[0]!.authorization, undefined);
    });

    it('answers 502 when the MCP server refuses the configured credentials, without refreshing the user\'s token', async () => {
      use({ mode: 'static', bearerToken: 'wrong-token', headers: {} });
      const expiring: McpCaller = { ...caller, upstream: { ...caller.upstream, expiresAt: Math.floor(Date.now() / 1000) } };
      front.removeAllListeners('request');
      front.on('request', (req: IncomingMessage, res: ServerResponse) => {
        forwards.push(forwarder.forward({ req, res, caller: expiring, path: '/', clientIp: undefined }));
      });
      handler = (_req, res) => res.writeHead(401).end();
      const { res, text } = await call('POST', '{}');
      assert.equal(res.statusCode, 502);
      assert.equal(JSON.parse(text).error, 'bad_gateway');
      assert.equal(res.headers['www-authenticate'], undefined, 'the client is not asked to sign in again');
      assert.equal(refreshes.length, 0);
      assert.equal(seen.length, 1);
    });
  });
});
