// Time to the first SSE headers through the proxy vs straight to the MCP server, on a stream
// whose first event is some time away: a proxy that holds the head until the first body bytes
// (as Heroku's does) shows up here as the whole delay.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { MCP_HEADERS, type Target } from './load.js';
import { median } from './stats.js';

interface HeaderTiming {
  headersMs: number;
  firstChunkMs: number;
  status: number;
  contentType: string;
}

function timeRequest(agent: http.Agent, url: string, method: string, headers: Record<string, string>, body?: string): Promise<HeaderTiming> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request(url, { method, headers, agent }, (res) => {
      const headersMs = performance.now() - t0;
      let firstChunkMs = NaN;
      res.on('data', () => {
        if (Number.isNaN(firstChunkMs)) firstChunkMs = performance.now() - t0;
      });
      res.on('end', () => resolve({ headersMs, firstChunkMs, status: res.statusCode ?? 0, contentType: String(res.headers['content-type']) }));
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/** A request whose response is an SSE stream with a delayed first event. */
export interface SseProbe {
  description: string;
  method: string;
  path: string;
  body?: string;
}

/** The fixture's slow-sse route, else a `progress` tool; undefined when it has neither. */
export async function findSseProbe(directBase: string, delayMs: number): Promise<SseProbe | undefined> {
  const agent = new http.Agent({ keepAlive: false });
  try {
    const slow: SseProbe = { description: `GET /mcp/slow-sse?delayMs=${delayMs}`, method: 'GET', path: `/slow-sse?delayMs=${delayMs}` };
    const t = await timeRequest(agent, `${directBase}${slow.path}`, 'GET', { accept: 'text/event-stream' }).catch(() => undefined);
    if (t && t.status === 200 && t.contentType.startsWith('text/event-stream')) return slow;

    // Fallback: a `progress` tool, if the fixture has one (its response is an SSE stream).
    const list = await fetch(directBase, {
      method: 'POST',
      headers: MCP_HEADERS,
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    });
    const text = await list.text();
    if (/"name"\s*:\s*"progress"/.test(text)) {
      return {
        description: 'POST /mcp tools/call progress (with a progressToken)',
        method: 'POST',
        path: '',
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: { name: 'progress', arguments: { steps: 2, intervalMs: delayMs }, _meta: { progressToken: 'bench' } },
        }),
      };
    }
    return undefined;
  } finally {
    agent.destroy();
  }
}

/** Medians in ms. */
export interface SseResult {
  probe: string;
  proxyHeaders: number;
  directHeaders: number;
  proxyFirstChunk: number;
  directFirstChunk: number;
  added: number;
  statuses: string;
}

export async function measureSse(probe: SseProbe, proxy: Target, direct: Target, samples: number): Promise<SseResult> {
  // Keep-alive on both sides, so both paths pay the same (no) connection setup.
  const agents: Record<string, http.Agent> = { proxy: new http.Agent({ keepAlive: true, maxSockets: 1 }), direct: new http.Agent({ keepAlive: true, maxSockets: 1 }) };
  const timings: Record<string, HeaderTiming[]> = { proxy: [], direct: [] };
  const headersOf = (t: Target) => ({ ...t.headers, ...(probe.method === 'GET' ? { accept: 'text/event-stream' } : {}) });
  try {
    for (const t of [proxy, direct]) {
      for (let i = 0; i < 3; i++) await timeRequest(agents[t.name]!, `${t.url}${probe.path}`, probe.method, headersOf(t), probe.body); // warm-up
    }
    for (let i = 0; i < samples; i++) {
      // Interleaved, alternating which goes first.
      const order = i % 2 === 0 ? [proxy, direct] : [direct, proxy];
      for (const t of order) timings[t.name]!.push(await timeRequest(agents[t.name]!, `${t.url}${probe.path}`, probe.method, headersOf(t), probe.body));
    }
  } finally {
    for (const a of Object.values(agents)) a.destroy();
  }
  const med = (name: 'proxy' | 'direct', key: 'headersMs' | 'firstChunkMs') => median(timings[name]!.map((t) => t[key]).filter(Number.isFinite));
  const statuses = (['proxy', 'direct'] as const)
    .map((n) => `${n}: ${[...new Set(timings[n]!.map((t) => `${t.status} ${t.contentType.split(';')[0]}`))].join(', ')}`)
    .join('; ');
  return {
    probe: probe.description,
    proxyHeaders: med('proxy', 'headersMs'),
    directHeaders: med('direct', 'headersMs'),
    proxyFirstChunk: med('proxy', 'firstChunkMs'),
    directFirstChunk: med('direct', 'firstChunkMs'),
    added: med('proxy', 'headersMs') - med('direct', 'headersMs'),
    statuses,
  };
}
