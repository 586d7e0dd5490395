// channel.ts: how messages between several MCP sessions and one stdio server process are routed
// by JSON-RPC id. The process is scripted here (what it receives, what it says), so that each rule
// can be driven exactly; test/e2e/stdio*.test.ts run the same code against real servers.
import assert from 'node:assert/strict';
import type { JSONRPCMessage, RequestId } from '@modelcontextprotocol/sdk/types.js';
import { ProcessChannel, type ChannelProcess, type SessionLink } from '../../src/mcp/stdio/channel.js';
import type { ChildExit } from '../../src/mcp/process-group.js';

type Json = Record<string, unknown>;

class ScriptedProcess implements ChannelProcess {
  onmessage: ((message: JSONRPCMessage) => void) | undefined;
  readonly received: Json[] = [];
  #exit!: (exit: ChildExit) => void;
  readonly exited = new Promise<ChildExit>((resolve) => (this.#exit = resolve));
  send(message: JSONRPCMessage): void {
    this.received.push(message as Json);
  }
  say(message: Json): void {
    this.onmessage?.(message as JSONRPCMessage);
  }
  die(exit: ChildExit): void {
    this.#exit(exit);
  }
  /** The last request it received with this method. */
  last(method: string): Json {
    const found = this.received.filter((m) => m.method === method).at(-1);
    assert.ok(found, `the process received no ${method}`);
    return found;
  }
}

class RecordingLink implements SessionLink {
  readonly delivered: { message: Json; related: RequestId | undefined }[] = [];
  goneReason: string | undefined;
  deliver(message: JSONRPCMessage, relatedRequestId?: RequestId): void {
    this.delivered.push({ message: message as Json, related: relatedRequestId });
  }
  gone(reason: string): void {
    this.goneReason = reason;
  }
}

const CLIENT_INFO = { name: 'mcp-auth-proxy', version: 'test' };
const request = (id: RequestId, method: string, params: Json = {}): JSONRPCMessage => ({ jsonrpc: '2.0', id, method, params }) as JSONRPCMessage;
const INITIALIZE = (id: RequestId) => request(id, 'initialize', { protocolVersion: '2025-11-25', capabilities: { sampling: {} }, clientInfo: { name: 'c', version: '1' } });
const flush = () => new Promise((resolve) => setImmediate(resolve));

function setUp(shared: boolean) {
  const process = new ScriptedProcess();
  const channel = new ProcessChannel(process, { shared, clientInfo: CLIENT_INFO });
  return { process, channel };
}

describe('stdio channel: routing between sessions and one server process', () => {
  it('initializes the process once: later sessions get the first answer, their initialized is not repeated', async () => {
    const { process, channel } = setUp(true);
    const [a, b] = [new RecordingLink(), new RecordingLink()];
    const [sa, sb] = [channel.attach(a), channel.attach(b)];
    sa.receive(INITIALIZE(1));
    sb.receive(INITIALIZE(1)); // while the first is pending: it waits
    assert.equal(process.received.filter((m) => m.method === 'initialize').length, 1);
    const forwarded = process.last('initialize');
    process.say({ jsonrpc: '2.0', id: forwarded.id, result: { protocolVersion: '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 's', version: '1' } } });
    await channel.initialized;
    assert.deepEqual(a.delivered.map((d) => d.message.id), [1]);
    assert.deepEqual(b.delivered.map((d) => d.message.id), [1]);
    assert.deepEqual(b.delivered[0]!.message.result, a.delivered[0]!.message.result);
    sa.receive({ jsonrpc: '2.0', method: 'notifications/initialized' } as JSONRPCMessage);
    sb.receive({ jsonrpc: '2.0', method: 'notifications/initialized' } as JSONRPCMessage);
    assert.equal(process.received.filter((m) => m.method === 'notifications/initialized').length, 1);
    // A third session, after: answered at once, nothing reaches the process.
    const c = new RecordingLink();
    channel.attach(c).receive(INITIALIZE('x'));
    assert.equal(c.delivered[0]!.message.id, 'x');
    assert.equal(process.received.filter((m) => m.method === 'initialize').length, 1);
  });

  it('gives requests of different sessions ids of the process\'s own, and answers each to its own session', () => {
    const { process, channel } = setUp(true);
    const [a, b] = [new RecordingLink(), new RecordingLink()];
    const [sa, sb] = [channel.attach(a), channel.attach(b)];
    sa.receive(request(5, 'tools/call', { name: 'echo' }));
    sb.receive(request(5, 'tools/call', { name: 'echo' }));
    const [first, second] = process.received;
    assert.notEqual(first!.id, second!.id);
    process.say({ jsonrpc: '2.0', id: second!.id, result: { for: 'b' } });
    process.say({ jsonrpc: '2.0', id: first!.id, result: { for: 'a' } });
    assert.deepEqual(a.delivered.map((d) => d.message), [{ jsonrpc: '2.0', id: 5, result: { for: 'a' } }]);
    assert.deepEqual(b.delivered.map((d) => d.message), [{ jsonrpc: '2.0', id: 5, result: { for: 'b' } }]);
    // An answer to nothing (a made-up id) goes nowhere.
    process.say({ jsonrpc: '2.0', id: 999, result: {} });
    assert.equal(a.delivered.length + b.delivered.length, 2);
  });

  it('rewrites progress tokens and brings progress back to the request\'s stream with the client\'s token', () => {
    const { process, channel } = setUp(true);
    const [a, b] = [new RecordingLink(), new RecordingLink()];
    channel.attach(a).receive(request(1, 'tools/call', { name: 'slow', _meta: { progressToken: 'tok' } }));
    channel.attach(b).receive(request(1, 'tools/call', { name: 'slow', _meta: { progressToken: 'tok' } }));
    const [ta, tb] = process.received.map((m) => ((m.params as Json)._meta as Json).progressToken);
    assert.notEqual(ta, tb);
    process.say({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: tb, progress: 1, total: 2 } });
    assert.equal(a.delivered.length, 0);
    assert.deepEqual(b.delivered, [{ message: { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'tok', progress: 1, total: 2 } }, related: 1 }]);
  });

  it('follows a cancellation to the process\'s id, and cancels what a leaving session still waits for', () => {
    const { process, channel } = setUp(false);
    const link = new RecordingLink();
    const session = channel.attach(link);
    session.receive(request('r1', 'tools/call'));
    session.receive(request('r2', 'tools/call'));
    const [r1, r2] = process.received.map((m) => m.id);
    session.receive({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'r1', reason: 'user' } } as JSONRPCMessage);
    assert.deepEqual(process.received.at(-1), { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: r1, reason: 'user' } });
    // A cancellation of an id it never sent is dropped.
    session.receive({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'other' } } as JSONRPCMessage);
    assert.equal(process.received.length, 3);
    session.detach();
    assert.deepEqual(process.received.at(-1), { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: r2, reason: 'The client left' } });
  });

  it('sends a server-to-client request to the one session with a request in flight, and only its answer back', () => {
    const { process, channel } = setUp(true);
    const [a, b] = [new RecordingLink(), new RecordingLink()];
    const [sa, sb] = [channel.attach(a), channel.attach(b)];
    sb.receive(request('call', 'tools/call', { name: 'sample' }));
    process.say({ jsonrpc: '2.0', id: 'srv-1', method: 'sampling/createMessage', params: { messages: [] } });
    assert.equal(a.delivered.length, 0);
    assert.deepEqual(b.delivered[0], { message: { jsonrpc: '2.0', id: 'srv-1', method: 'sampling/createMessage', params: { messages: [] } }, related: 'call' });
    // An answer from the session that was not asked is dropped; the asked one's goes through, once.
    sa.receive({ jsonrpc: '2.0', id: 'srv-1', result: { forged: true } } as JSONRPCMessage);
    sb.receive({ jsonrpc: '2.0', id: 'srv-1', result: { content: 'ok' } } as JSONRPCMessage);
    sb.receive({ jsonrpc: '2.0', id: 'srv-1', result: { content: 'again' } } as JSONRPCMessage);
    assert.deepEqual(process.received.filter((m) => m.id === 'srv-1'), [{ jsonrpc: '2.0', id: 'srv-1', result: { content: 'ok' } }]);
  });

  it('shared: refuses a server-to-client request it cannot attribute, and keeps log messages from strangers', () => {
    const { process, channel } = setUp(true);
    const [a, b] = [new RecordingLink(), new RecordingLink()];
    channel.attach(a).receive(request(1, 'tools/call'));
    channel.attach(b).receive(request(1, 'tools/call'));
    process.say({ jsonrpc: '2.0', id: 77, method: 'elicitation/create', params: {} });
    assert.deepEqual(process.received.at(-1), { jsonrpc: '2.0', id: 77, error: { code: -32600, message: 'No client of this server can take the request now' } });
    process.say({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'about someone' } });
    assert.equal(a.delivered.length + b.delivered.length, 0);
    // What changed on the server is everyone's news.
    process.say({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
    assert.equal(a.delivered.length, 1);
    assert.equal(b.delivered.length, 1);
  });

  it('alone on its process (isolation session), a session gets everything the server says on its own', () => {
    const { process, channel } = setUp(false);
    const link = new RecordingLink();
    channel.attach(link);
    process.say({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'hello' } });
    process.say({ jsonrpc: '2.0', id: 3, method: 'roots/list' });
    // Nothing in flight: no related request (the SDK puts it on the GET stream).
    assert.deepEqual(link.delivered.map((d) => d.related), [undefined, undefined]);
  });

  it('when the process ends: each waiting request gets a JSON-RPC error, each session ends', async () => {
    const { process, channel } = setUp(true);
    const [a, b] = [new RecordingLink(), new RecordingLink()];
    channel.attach(a).receive(request(9, 'tools/call'));
    channel.attach(b);
    process.die({ code: null, signal: 'SIGKILL' });
    await flush();
    assert.deepEqual(a.delivered.map((d) => d.message), [
      { jsonrpc: '2.0', id: 9, error: { code: -32000, message: 'The MCP server process was killed by SIGKILL; start a new session' } },
    ]);
    assert.equal(a.goneReason, 'The MCP server process was killed by SIGKILL');
    assert.equal(b.goneReason, 'The MCP server process was killed by SIGKILL');
    await assert.rejects(channel.initialized, /killed by SIGKILL/);
    // A session attached afterwards is told at once.
    const late = new RecordingLink();
    channel.attach(late);
    await flush();
    assert.equal(late.goneReason, 'The MCP server process was killed by SIGKILL');
  });

  it('initializes the process itself for stateless requests, and completes the handshake', async () => {
    const { process, channel } = setUp(true);
    const ready = channel.initializeAsProxy();
    const init = process.last('initialize');
    assert.deepEqual((init.params as Json).clientInfo, CLIENT_INFO);
    process.say({ jsonrpc: '2.0', id: init.id, result: { protocolVersion: '2025-11-25', capabilities: {}, serverInfo: { name: 's', version: '1' } } });
    await ready;
    assert.equal(process.received.at(-1)!.method, 'notifications/initialized');
    // A session's initialize after that is answered from the same result.
    const link = new RecordingLink();
    channel.attach(link).receive(INITIALIZE(1));
    assert.equal((link.delivered[0]!.message.result as Json).protocolVersion, '2025-11-25');
  });
});
