// Heroku's own files that operators bring with them (../shared/reference/, beside this checkout
// and in CI): the views of mcp-remote-auth-proxy 1.3.0 and its .env-example, and the documents
// (../shared/seeds/) whose snippets operators paste. Read, never copied into the project.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SHARED = fileURLToPath(new URL('../../../shared/', import.meta.url));
const HEROKU = join(SHARED, 'reference', 'heroku-mcp-remote-auth-proxy-1.3.0');

function required(path: string): string {
  if (!existsSync(path)) throw new Error(`${path} is missing: the tests read Heroku's reference files from ../shared/ beside the checkout`);
  return path;
}

/** Heroku's lib/views: confirm-login.ejs, _layout.ejs (and an unused interaction.ejs). */
export const herokuViewsDir = (): string => required(join(HEROKU, 'lib', 'views'));

export const herokuEnvExample = (): string => readFileSync(required(join(HEROKU, '.env-example')), 'utf8');

/** One of the seed documents, by its number (000 buildpack README, 001 Dev Center, 002 proxy README). */
export function seed(number: '000' | '001' | '002' | '003' | '004'): string {
  const dir = required(join(SHARED, 'seeds'));
  const files = readdirSync(dir).filter((name) => name.startsWith(`${number}_`));
  if (files.length !== 1) throw new Error(`no single seed ${number}_* in ${dir}`);
  return readFileSync(join(dir, files[0]!), 'utf8');
}

