import assert from 'node:assert/strict';
import { Problem, problemPage, problemResponse, problems } from '../../src/http/problems.js';

describe('problems: one vocabulary, one rendering', () => {
  it("answers OAuth's JSON shape, never cached", () => {
    assert.deepEqual(problemResponse(problems.invalidRequest('bad')), {
      status: 400,
      headers: { 'Cache-Control': 'no-store' },
      body: { error: 'invalid_request', error_description: 'bad' },
    });
  });

  it('says when to retry, and closes the connection when a body was left unread', () => {
    assert.equal(problemResponse(problems.unavailable('down', 30)).headers['Retry-After'], '30');
    assert.equal(problemResponse(problems.storageUnavailable(5)).headers['Retry-After'], '5');
    assert.equal(problemResponse(problems.tooManyRequests(12)).headers['Retry-After'], '12');
    assert.equal(problemResponse(problems.unavailable('down')).headers['Retry-After'], undefined);
    assert.deepEqual(problemResponse(problems.bodyTooSlow(10_000)), {
      status: 408,
      headers: { 'Cache-Control': 'no-store', Connection: 'close' },
      body: { error: 'invalid_request', error_description: 'The request body did not arrive within 10 s' },
    });
  });

  it('gives bearer challenges the status their error means (RFC 6750 §3.1)', () => {
    const challenge = 'Bearer resource_metadata="https://p.example/.well-known/oauth-protected-resource/mcp"';
    assert.equal(problemResponse(problems.bearer(challenge)).status, 401);
    assert.equal(problemResponse(problems.bearer(challenge, 'invalid_request')).status, 400);
    assert.equal(problemResponse(problems.bearer(challenge, 'invalid_token')).status, 401);
    const scope = problemResponse(problems.bearer(challenge, 'insufficient_scope', 'needs more'));
    assert.equal(scope.status, 403);
    assert.equal(scope.headers['WWW-Authenticate'], challenge);
    assert.deepEqual(scope.body, { error: 'insufficient_scope', error_description: 'needs more' });
  });

  it("answers an unknown MCP session as the MCP SDK's server does (JSON-RPC, no id)", () => {
    assert.deepEqual(problemResponse(problems.sessionNotFound()), {
      status: 404,
      headers: { 'Cache-Control': 'no-store' },
      body: { jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null },
    });
  });

  it('tells a gateway timeout from a refused connection', () => {
    assert.deepEqual([problems.mcpServerUnavailable().status, problems.mcpServerUnavailable().code], [502, 'bad_gateway']);
    assert.deepEqual([problems.mcpServerTimeout().status, problems.mcpServerTimeout().code], [504, 'gateway_timeout']);
  });

  it('gives pages a heading, the message, the code and any hint', () => {
    assert.deepEqual(problemPage(new Problem(403, 'invalid_csrf_token', 'Start again.', { title: 'This page has expired' })), {
      title: 'This page has expired',
      message: 'Start again.',
      code: 'invalid_csrf_token',
    });
    assert.equal(problemPage(problems.pageNotFound('/x')).hint, 'To connect an MCP client, give it the server URL shown on the home page of this server.');
    assert.equal(problemPage(problems.serverError()).title, 'Something went wrong');
  });
});
