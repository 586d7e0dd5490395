// Random and malformed input at the endpoints the world can reach: no 5xx, no crash, and the
// proxy still works afterwards. Seeded, so a failure can be replayed.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startStack, type Stack } from '../helpers/stack.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261123);
const CASES_PER_ENDPOINT = Number(process.env.FUZZ_CASES ?? 150);

/** mulberry32: small, seedable. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NASTY = [
  '', ' ', '%', '%00', '%zz', '\u0000', '\uffff', '\ud800', '../../etc/passwd', '<script>', "'", '"', '\\', '{', '[', 'null', 'true', '-1',
  '1e309', 'NaN', '__proto__', 'constructor', 'https://evil.example.com', 'http://127.0.0.1:1/', 'cursor://x', 'javascript:alert(1)',
  'a'.repeat(5000), '☃', 'openid offline_access', 'S256', 'plain', 'code', 'token', 'refresh_token', 'authorization_code',
];
const PARAMS = ['client_id', 'redirect_uri', 'response_type', 'scope', 'state', 'code_challenge', 'code_challenge_method', 'resource', 'grant_type', 'code', 'refresh_token', 'code_verifier', 'prompt', 'nonce', 'token', 'request', 'request_uri'];

/** Lone surrogates cannot be percent-encoded: send their (invalid) UTF-8 bytes instead. */
const encode = (s: string): string => {
  try {
    return encodeURIComponent(s);
  } catch {
    return '%ED%A0%80';
  }
};

/** Unencoded, as far as HTTP allows in a request target (Node refuses the rest to send). */
const raw = (s: string): string => s.replace(/[^\u0021-\u00ff]/g, '');

function generator(rand: () => number) {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
  const text = (): string => (rand() < 0.6 ? pick(NASTY) : Array.from({ length: Math.floor(rand() * 40) }, () => String.fromCharCode(Math.floor(rand() * 0x7f))).join(''));
  const value = (depth = 0): unknown => {
    const r = rand();
    if (depth < 3 && r < 0.15) return Array.from({ length: Math.floor(rand() * 4) }, () => value(depth + 1));
    if (depth < 3 && r < 0.3) return Object.fromEntries(Array.from({ length: Math.floor(rand() * 4) }, () => [pick([...PARAMS, 'redirect_uris', 'grant_types', 'token_endpoint_auth_method', 'application_type', 'jwks', '__proto__']), value(depth + 1)]));
    if (r < 0.4) return Math.floor(rand() * 1e6) - 5e5;
    if (r < 0.45) return rand() < 0.5;
    if (r < 0.5) return null;
    return text();
  };
  const query = (): string => Array.from({ length: Math.floor(rand() * 8) }, () => `${encode(pick(PARAMS))}=${rand() < 0.2 ? raw(text()) : encode(text())}`).join('&');
  const body = (): { type: string; data: string } => {
    const r = rand();
    if (r < 0.35) return { type: 'application/json', data: rand() < 0.8 ? JSON.stringify(value()) : text() };
    if (r < 0.7) return { type: 'application/x-www-form-urlencoded', data: query() };
    return { type: pick(['text/plain', 'application/xml', 'multipart/form-data; boundary=x', '', 'application/json; charset=utf-16']), data: text() };
  };
  const headers = (): Record<string, string> => {
    const h: Record<string, string> = {};
    if (rand() < 0.5) h.authorization = pick(['Bearer ', `Bearer ${text()}`, `Basic ${text()}`, `Basic ${Buffer.from(`${text()}:${text()}`).toString('base64')}`, text()]);
    if (rand() < 0.3) h.origin = pick(['null', 'https://evil.example.com', 'http://localhost:6274', text()]);
    if (rand() < 0.3) h['mcp-session-id'] = text();
    if (rand() < 0.2) h['content-encoding'] = pick(['gzip', 'br', 'identity', text()]);
    if (rand() < 0.2) h.accept = text();
    if (rand() < 0.2) h['x-forwarded-for'] = text();
    return h;
  };
  return { pick, body, query, headers };
}

interface Outcome {
  status: number;
}

/** Raw HTTP, so malformed headers and bodies are sent as they are. */
function send(base: URL, method: string, path: string, headers: Record<string, string>, body?: { type: string; data: string }): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    const safeHeaders = Object.fromEntries(Object.entries(headers).filter(([, v]) => !/[\r\n\u0000-\u001f\u007f-\uffff]/.test(v)));
    const req = request({ host: base.hostname, port: base.port, method, path, headers: { ...safeHeaders, ...(body ? { 'content-type': body.type } : {}) }, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${path}`)));
    req.on('error', reject);
    req.end(body?.data);
  });
}

describe('fuzzing the public endpoints', function () {
  this.timeout(180_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack();
  });
  after(async () => stack?.stop());

  for (const [method, path] of [
    ['POST', '/reg'],
    ['GET', '/auth'],
    ['POST', '/auth'],
    ['POST', '/token'],
    ['POST', '/token/revocation'],
    ['POST', '/device/auth'],
    ['GET', '/device'],
    ['POST', '/device'],
    ['POST', '/session/end/confirm'],
    ['POST', '/mcp'],
    ['GET', '/mcp'],
    ['DELETE', '/mcp'],
    ['GET', '/interaction/x'],
    ['POST', '/interaction/x/confirm'],
    ['POST', '/interaction/x/refused'],
    ['POST', '/interaction/x/unavailable'],
    ['GET', '/interaction/x/identity'],
    ['GET', '/interaction/identity/callback'],
  ] as const) {
    it(`${method} ${path}: no 5xx for ${CASES_PER_ENDPOINT} malformed requests`, async () => {
      const rand = random(SEED + path.length * 31 + method.length);
      const g = generator(rand);
      const base = new URL(stack.baseUrl);
      const failures: string[] = [];
      for (let i = 0; i < CASES_PER_ENDPOINT; i++) {
        const q = g.query();
        const target = `${path}${q ? `?${q}` : ''}`;
        const body = method === 'GET' || method === 'DELETE' ? undefined : g.body();
        const { status } = await send(base, method, target, g.headers(), body);
        if (status >= 500) failures.push(`${status} ${method} ${target.slice(0, 200)} ${body ? JSON.stringify(body).slice(0, 200) : ''}`);
      }
      assert.deepEqual(failures, [], `seed ${SEED}`);
    });
  }

  it('still serves a real client afterwards', async () => {
    const response = await fetch(`${stack.baseUrl}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['http://127.0.0.1:1234/cb'], token_endpoint_auth_method: 'none' }),
    });
    assert.equal(response.status, 201);
  });
});
