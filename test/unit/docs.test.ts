// The documentation cannot drift from the code: README.md's configuration reference and
// .env-template list every setting of SETTINGS (and nothing else), in the same groups and order,
// with the code's defaults and secrets; the command-line table lists every command; the template
// is a working local configuration; and every relative link and anchor of the docs resolves.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMMANDS } from '../../src/commands/index.js';
import { loadConfig, readEnvFile } from '../../src/config/index.js';
import { SETTINGS, type Setting, type SettingName } from '../../src/config/settings.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
const NAMES = Object.keys(SETTINGS) as SettingName[];
const spec = (name: SettingName): Setting<unknown> => SETTINGS[name];

/** The lines of the `## heading` section of a Markdown text, up to the next `## `. */
function section(markdown: string, heading: string): string[] {
  const lines = markdown.split('\n');
  const start = lines.indexOf(`## ${heading}`);
  assert.ok(start >= 0, `README.md has no "## ${heading}" section`);
  const end = lines.findIndex((line, i) => i > start && line.startsWith('## '));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** The cells of a table row; `\|` inside a cell is not a separator. */
const cellsOf = (row: string): string[] =>
  row
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim());

const SEPARATOR = /^\|[\s|:-]+\|$/;

interface TableRow {
  /** The `### ` heading the table sits under. */
  group: string;
  cells: string[];
}

/** Body rows of every table in the lines (header and separator rows left out). */
function tableRows(lines: string[]): TableRow[] {
  const rows: TableRow[] = [];
  let group = '';
  lines.forEach((line, i) => {
    if (line.startsWith('### ')) group = line.slice(4).trim();
    if (!line.startsWith('|') || SEPARATOR.test(line.trim()) || SEPARATOR.test(lines[i + 1]?.trim() ?? '')) return;
    rows.push({ group, cells: cellsOf(line) });
  });
  return rows;
}

/** The first `NAME` in backticks of a cell. */
const firstName = (cell: string): string | undefined => /`([A-Za-z][\w-]*)/.exec(cell)?.[1];

const README = read('README.md');
const CONFIG_ROWS = tableRows(section(README, 'Configuration reference')).map(({ group, cells }) => ({
  group,
  name: firstName(cells[0] ?? '') ?? `(no name in "${cells[0]}")`,
  defaultCell: cells[1] ?? '',
  meaning: cells[2] ?? '',
}));

interface TemplateLine {
  group: string;
  name: string;
  value: string;
  commented: boolean;
}

const TEMPLATE: TemplateLine[] = (() => {
  const found: TemplateLine[] = [];
  let group = '';
  for (const line of read('.env-template').split('\n')) {
    const heading = /^# --- (.+?) -+$/.exec(line);
    if (heading) group = heading[1]!;
    const assignment = /^(# )?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (assignment) found.push({ group, name: assignment[2]!, value: assignment[3]!, commented: assignment[1] !== undefined });
  }
  return found;
})();

/** [group, names in order][], to compare the two documents' structure. */
const grouped = (entries: { group: string; name: string }[]): [string, string[]][] => {
  const groups: [string, string[]][] = [];
  for (const { group, name } of entries) {
    const last = groups.at(-1);
    if (last && last[0] === group) last[1].push(name);
    else groups.push([group, [name]]);
  }
  return groups;
};

function assertSameNames(listed: string[], where: string): void {
  const missing = NAMES.filter((name) => !listed.includes(name));
  const unknown = listed.filter((name) => !(NAMES as string[]).includes(name));
  const twice = listed.filter((name, i) => listed.indexOf(name) !== i);
  assert.deepEqual({ missing, unknown, twice }, { missing: [], unknown: [], twice: [] }, `${where} against SETTINGS (src/config/settings.ts)`);
}

describe('documentation', () => {
  describe("README.md's configuration reference", () => {
    it('lists every setting of SETTINGS once, and nothing else', () => {
      assertSameNames(CONFIG_ROWS.map((row) => row.name), 'README.md configuration reference');
    });

    it('sits every row under a group heading', () => {
      assert.deepEqual(CONFIG_ROWS.filter((row) => row.group === '').map((row) => row.name), []);
    });

    it("gives each setting the code's default, and none to a setting without one", () => {
      const wrong = CONFIG_ROWS.flatMap(({ name, defaultCell }) => {
        if (!(name in SETTINGS)) return [];
        const fallback = spec(name as SettingName).default;
        if (fallback !== undefined) return defaultCell.includes(`\`${fallback}\``) ? [] : [`${name}: "${defaultCell}" should show \`${fallback}\``];
        // No default in the code: "required", "unset", "derived …", never a literal value.
        return defaultCell.startsWith('`') ? [`${name}: "${defaultCell}" shows a value, but the code has no default`] : [];
      });
      assert.deepEqual(wrong, []);
    });

    it('marks the secret settings (never given to the MCP server), and only them', () => {
      const wrong = CONFIG_ROWS.filter(({ name, meaning }) => name in SETTINGS && meaning.includes('**Secret.**') !== Boolean(spec(name as SettingName).secret));
      assert.deepEqual(wrong.map((row) => row.name), []);
    });
  });

  describe('.env-template', () => {
    it('assigns every setting of SETTINGS once (commented or not), and nothing else', () => {
      assertSameNames(TEMPLATE.map((line) => line.name), '.env-template');
    });

    it("has README.md's groups, with the same settings in the same order", () => {
      assert.deepEqual(grouped(TEMPLATE), grouped(CONFIG_ROWS));
    });

    it('shows the default on the commented line of every setting that has one', () => {
      const wrong = TEMPLATE.filter(({ name, value, commented }) => {
        const fallback = name in SETTINGS ? spec(name as SettingName).default : undefined;
        return commented && fallback !== undefined && value !== fallback;
      });
      assert.deepEqual(wrong.map(({ name, value }) => `${name}=${value}`), []);
    });

    it('is a valid local configuration once the IdP client id is filled in', () => {
      const env = readEnvFile(join(ROOT, '.env-template'));
      assert.equal(env.IDENTITY_CLIENT_ID, '', 'the template leaves the client id to fill in');
      const config = loadConfig({ ...env, IDENTITY_CLIENT_ID: 'my-client' });
      assert.equal(config.demo, false);
      assert.equal(config.production, false);
      assert.equal(config.baseUrl, 'http://localhost:3001');
      assert.equal(config.mcp.resource, 'http://localhost:3001/mcp');
      assert.equal(config.identity.callbackUrl, 'http://localhost:3001/interaction/identity/callback');
    });
  });

  it("README.md's command-line table lists every command, and nothing else", () => {
    // The command table's rows start with the command; the layout table's with a place.
    const listed = tableRows(section(README, 'Command line'))
      .filter(({ cells }) => cells[0]?.startsWith('`'))
      .map(({ cells }) => firstName(cells[0] ?? ''));
    assert.deepEqual([...new Set(listed)].sort(), Object.keys(COMMANDS).sort());
  });

  describe('links', () => {
    const markdownFiles = (dir: string): string[] =>
      readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) return markdownFiles(path);
        return entry.name.endsWith('.md') ? [path] : [];
      });
    const FILES = ['README.md', ...markdownFiles('docs')];

    /** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
    function anchorsOf(markdown: string): Set<string> {
      const seen = new Map<string, number>();
      const anchors = new Set<string>();
      let fenced = false;
      for (const line of markdown.split('\n')) {
        if (line.startsWith('```')) fenced = !fenced;
        const heading = !fenced && /^#{1,6} (.+)$/.exec(line);
        if (!heading) continue;
        const base = heading[1]!.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
        const count = seen.get(base) ?? 0;
        seen.set(base, count + 1);
        anchors.add(count === 0 ? base : `${base}-${count}`);
      }
      return anchors;
    }

    it('every relative link of README.md and docs/ points to an existing file and heading', () => {
      const broken: string[] = [];
      for (const file of FILES) {
        const text = read(file);
        for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
          if (/^[a-z]+:/i.test(target!)) continue;
          const [path, anchor] = target!.split('#') as [string, string | undefined];
          const linked = path === '' ? file : join(dirname(file), path);
          if (!existsSync(join(ROOT, linked))) {
            broken.push(`${file}: ${target} (no ${linked})`);
          } else if (anchor !== undefined && linked.endsWith('.md') && !anchorsOf(read(linked)).has(anchor)) {
            broken.push(`${file}: ${target} (no heading #${anchor} in ${linked})`);
          }
        }
      }
      assert.deepEqual(broken, []);
    });

    it('README.md links every runbook', () => {
      const runbooks = markdownFiles('docs/runbooks').map((path) => relative(ROOT, join(ROOT, path)));
      assert.ok(runbooks.length >= 6, 'the runbooks are in docs/runbooks/');
      assert.deepEqual(runbooks.filter((path) => !README.includes(`](${path})`)), []);
    });
  });
});
