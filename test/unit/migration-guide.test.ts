// docs/migrating-from-heroku-proxy.md cannot drift: its side-by-side table has a row for every
// variable of Heroku's .env-example and of its three documents, and each row's status is what the
// code does (read as a setting, warned about, or left alone).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { environmentWarnings } from '../../src/config/warnings.js';
import { SETTINGS, type SettingName } from '../../src/config/settings.js';
import { herokuEnvExample, seed } from '../helpers/heroku-reference.js';
import { configSnippets } from '../helpers/seed-snippets.js';

const GUIDE = readFileSync(fileURLToPath(new URL('../../docs/migrating-from-heroku-proxy.md', import.meta.url)), 'utf8');

// Upper-case words of the documents that are not variables: placeholders and extraction debris.
const NOT_VARIABLES = new Set(['MODULE_NAME', 'HONEYCOMB_ENVIRONMENT_API_KEY', 'IDIDENTITY_CLIENT_SECRET']);

function documentedVariables(): Set<string> {
  const documents = [seed('000'), seed('001'), seed('002'), herokuEnvExample()];
  const names = new Set<string>();
  for (const text of documents) {
    for (const snippet of configSnippets(text)) for (const name of Object.keys(snippet.vars)) names.add(name);
    for (const [, name] of text.matchAll(/(?:^|[\s#`'"])([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)=/gm)) names.add(name!);
    for (const [name] of text.matchAll(/\b(?:[A-Z][A-Z0-9]+_)+[A-Z0-9]+\b/g)) names.add(name);
  }
  for (const name of NOT_VARIABLES) names.delete(name);
  return names;
}

const ROWS = new Map(
  GUIDE.slice(GUIDE.indexOf('## Every variable, side by side'))
    .split('\n')
    .filter((line) => /^\| `[A-Z]/.test(line))
    .map((line) => {
      const [name, status] = line.split('|').slice(1, 3).map((cell) => cell.trim());
      return [name!.replace(/`/g, ''), status!] as const;
    }),
);

const KNOWN = new Set<string>(
  (Object.keys(SETTINGS) as SettingName[]).flatMap((name) => {
    const spec = SETTINGS[name];
    return [name, ...('aliases' in spec && spec.aliases ? spec.aliases : [])];
  }),
);

const warnedAbout = (name: string): boolean =>
  environmentWarnings({ BASE_URL: 'https://mcp.example.com', NODE_ENV: 'production', [name]: 'value' }).some((w) => w.startsWith(`${name}:`));

describe('docs/migrating-from-heroku-proxy.md', () => {
  it("has a row for every variable of Heroku's documents and .env-example", () => {
    const documented = documentedVariables();
    for (const name of ['PORT', 'DEBUG', 'MCP_AUTH_PROXY_VERIFY_RELEASE', 'IDENTITY_REDIRECT_URI', 'OTEL_EXPORTER_OTLP_PROTOCOL']) assert.ok(documented.has(name), name);
    assert.deepEqual([...documented].filter((name) => !ROWS.has(name)).sort(), []);
  });

  it('says of each what the code does', () => {
    const wrong: string[] = [];
    for (const [name, status] of ROWS) {
      const setting = KNOWN.has(name);
      if (status === 'same' || status === 'changed') {
        // The OpenTelemetry SDK reads the standard OTEL_* variables itself (.env-template says so).
        if (!setting && !name.startsWith('OTEL_')) wrong.push(`${name}: "${status}", but it is not a setting`);
      } else if (status === 'not a variable') {
        if (setting) wrong.push(`${name}: "not a variable", but it is a setting`);
      } else if (status === 'ignored, warned') {
        if (setting || !warnedAbout(name)) wrong.push(`${name}: "ignored, warned", but ${setting ? 'it is a setting' : 'nothing warns about it'}`);
      } else if (status === "not the proxy's") {
        if (setting || warnedAbout(name)) wrong.push(`${name}: "not the proxy's", but ${setting ? 'it is a setting' : 'it is warned about'}`);
      } else {
        wrong.push(`${name}: unknown status "${status}"`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it("names the key prefix defaults as they are: ours and Heroku's", () => {
    assert.equal(SETTINGS.MCP_AUTH_PROXY_REDIS_PREFIX.default, 'mcp-auth-proxy:');
    assert.match(GUIDE, /this\nproxy's default is `mcp-auth-proxy:`/);
    assert.match(herokuEnvExample(), /MCP_AUTH_PROXY_REDIS_PREFIX=oidc:/);
  });
});
