// The layers of src/ as docs/architecture.md draws them, checked on the code: no import cycle
// (type-only and dynamic imports count: a cycle of types is still two modules that cannot be
// understood apart), and no area importing one above it.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');
const IMPORT = /(?:import|export)\s+(?:type\s+)?(?:[^'"]*?\sfrom\s+)?['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;

/** Every module of src/ (relative path) and the modules of src/ it imports. */
function importGraph(): Map<string, string[]> {
  const files = (readdirSync(SRC, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(join(SRC, file), 'utf8');
    const targets = [...text.matchAll(IMPORT)].map((m) => relative(SRC, resolve(dirname(join(SRC, file)), m[1] ?? m[2]!)).replace(/\.js$/, '.ts'));
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** The strongly connected components of more than one module (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (stack.includes(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      component.push(w);
    } while (w !== v);
    if (component.length > 1) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** The directory of a module; the top-level modules are the entries, except logging.ts, which everything uses. */
const areaOf = (module: string): string => (module.includes('/') ? module.split('/')[0]! : module === 'logging.ts' ? 'logging' : '(entry)');

/**
 * What each area must not import (docs/architecture.md). The entry modules (boot, server, cli,
 * main) and commands/ assemble everything and may import anything.
 */
const FORBIDDEN: Record<string, string[]> = {
  logging: ['storage', 'http', 'pages', 'grants', 'identity', 'provider', 'interactions', 'mcp', 'commands', 'demo', '(entry)'],
  storage: ['http', 'pages', 'grants', 'identity', 'provider', 'interactions', 'mcp', 'commands', 'demo', '(entry)'],
  config: ['storage', 'grants', 'interactions', 'mcp', 'commands', 'demo', '(entry)'],
  telemetry: ['storage', 'pages', 'grants', 'identity', 'provider', 'interactions', 'mcp', 'commands', 'demo', '(entry)'],
  pages: ['storage', 'grants', 'identity', 'provider', 'interactions', 'mcp', 'telemetry', 'commands', 'demo', '(entry)'],
  http: ['grants', 'identity', 'provider', 'interactions', 'commands', 'demo'],
  grants: ['http', 'pages', 'identity', 'provider', 'interactions', 'mcp', 'commands', 'demo', '(entry)'],
  identity: ['provider', 'interactions', 'mcp', 'pages', 'commands', 'demo', '(entry)'],
  provider: ['interactions', 'mcp', 'commands', 'demo', '(entry)'],
  mcp: ['interactions', 'pages', 'commands', 'demo', '(entry)'],
  interactions: ['mcp', 'commands', 'demo', '(entry)'],
  demo: ['storage', 'grants', 'identity', 'provider', 'interactions', 'mcp', 'commands', '(entry)'],
  policy: ['logging', 'storage', 'config', 'telemetry', 'pages', 'http', 'grants', 'identity', 'provider', 'interactions', 'mcp', 'commands', 'demo', '(entry)'],
};

/** Imports from an area into one it must not import. */
function violations(graph: Map<string, string[]>): string[] {
  const found: string[] = [];
  for (const [module, targets] of graph) {
    const forbidden = FORBIDDEN[areaOf(module)] ?? [];
    for (const target of targets) if (forbidden.includes(areaOf(target))) found.push(`${module} -> ${target}`);
  }
  return found;
}

describe('architecture of src/', () => {
  const graph = importGraph();

  it('reads every module and its imports', () => {
    assert.ok(graph.size > 80, `${graph.size} modules`);
    assert.ok(graph.get('server.ts')!.includes('mcp/proxy.ts'));
    assert.ok(graph.get('telemetry/sdk.ts')!.includes('telemetry/node-sdk.ts'), 'dynamic imports count');
    assert.ok(graph.get('mcp/caller-cache.ts')!.includes('mcp/caller.ts'), 'type-only imports count');
  });

  it('has no import cycle, type-only and dynamic imports included', () => {
    assert.deepEqual(cycles(graph), []);
  });

  it('finds a cycle when there is one (the check itself)', () => {
    const withCycle = new Map(graph).set('storage/keys.ts', ['storage/store.ts']).set('storage/store.ts', ['storage/keys.ts']);
    assert.deepEqual(cycles(withCycle), [['storage/keys.ts', 'storage/store.ts']]);
  });

  it('has a row in the layer table for every area', () => {
    const areas = new Set([...graph.keys()].map(areaOf));
    const unlisted = [...areas].filter((area) => !(area in FORBIDDEN) && area !== 'commands' && area !== '(entry)');
    assert.deepEqual(unlisted, []);
  });

  it('has no area importing one it must not', () => {
    assert.deepEqual(violations(graph), []);
  });

  it('finds an import into a higher layer when there is one (the check itself)', () => {
    const upward = new Map(graph).set('storage/store.ts', ['mcp/proxy.ts']);
    assert.deepEqual(violations(upward), ['storage/store.ts -> mcp/proxy.ts']);
  });
});
