// Redis stopped mid-run: the proxy fails closed (503 JSON with Retry-After, never a 500, a hang or
// a crash), /readyz says Redis is unreachable while /healthz stays 200, and both recover by
// themselves when Redis is back.
import assert from 'node:assert/strict';
import { startRedisOn } from '../helpers/redis.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { until } from '../helpers/wait.js';


describe('Redis outage', function () {
  this.timeout(60_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack();
  });
  after(async () => stack?.stop());

  const register = () =>
    fetch(`${stack.baseUrl}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['http://127.0.0.1:5000/cb'], token_endpoint_auth_method: 'none' }),
    });

  const readyz = async () => {
    const response = await fetch(`${stack.baseUrl}/readyz`);
    return { status: response.status, text: await response.text() };
  };

  it('answers 503 while Redis is down and recovers when it is back', async () => {
    assert.equal((await register()).status, 201);
    assert.equal((await readyz()).status, 200);

    await stack.redis.stop();
    await until(() => !stack.proxy.store.available, 'the proxy to notice');

    const notReady = await readyz();
    assert.equal(notReady.status, 503);
    const body = JSON.parse(notReady.text) as { checks: { redis: string }; failing: string[] };
    assert.equal(body.checks.redis, 'unreachable');
    assert.deepEqual(body.failing, ['redis']);
    assert.ok(!notReady.text.includes(String(stack.redis.port)) && !notReady.text.includes('127.0.0.1'), 'no Redis address in the body');
    assert.equal((await fetch(`${stack.baseUrl}/healthz`)).status, 200, 'liveness does not depend on Redis');

    const checks: [string, Promise<Response>][] = [
      ['registration', register()],
      ['token', fetch(`${stack.baseUrl}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=refresh_token&refresh_token=x&client_id=y' })],
      ['mcp', fetch(stack.mcpUrl, { method: 'POST', headers: { authorization: `Bearer ${'a'.repeat(43)}` } })],
      ['authorize', fetch(`${stack.baseUrl}/auth?client_id=y&response_type=code`, { redirect: 'manual' })],
    ];
    for (const [what, pending] of checks) {
      const response = await pending;
      assert.equal(response.status, 503, what);
      assert.equal(response.headers.get('retry-after'), '5', what);
      assert.equal(((await response.json()) as { error: string }).error, 'temporarily_unavailable', what);
    }

    // Every request fails alike: the log says so once per kind, not once per request.
    const logged = stack.logs.length;
    const burst = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? register() : fetch(`${stack.baseUrl}/auth?client_id=y&response_type=code`, { redirect: 'manual' }))));
    assert.ok(burst.every((response) => response.status === 503));
    const warnings = stack.logs.slice(logged).filter((line) => /"level":(40|50)/.test(line) && !line.includes('"request completed"'));
    assert.ok(warnings.length <= 4, `${warnings.length} warnings for 200 failed requests:\n${warnings.slice(0, 5).join('\n')}`);

    stack.redis = await startRedisOn(stack.redis.port);
    await until(() => stack.proxy.store.available, 'the proxy to reconnect');
    assert.equal((await register()).status, 201);
    assert.equal((await readyz()).status, 200);
  });
});
