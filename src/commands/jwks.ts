// `mcp-auth-proxy jwks`: a new OIDC_PROVIDER_JWKS, or (--rotate) the current one with a new key
// in front. Only the JSON goes to stdout, so `$(node bin/mcp-auth-proxy.js jwks)` captures exactly it.
import { readFile } from 'node:fs/promises';
import type { JsonWebKey } from 'node:crypto';
import { readEnvironment } from '../config/index.js';
import { privateJwks } from '../config/parsers.js';
import { describeKey, generateSigningKey, KEY_TYPES, keyTypeOf, type KeyType } from '../provider/signing-keys.js';
import { EXIT, positiveIntegerOption, UsageError, type Command, type CommandIO } from './command.js';

// P-256 (ES256) by default: every JOSE library and every browser's Web Crypto verifies it, so
// any MCP client that checks our ID tokens can. Ed25519 is smaller and faster, but younger in
// client libraries and browsers.
const DEFAULT_TYPE: KeyType = 'p-256';

export const command: Command = {
  help: `Usage: <cli> jwks [--type p-256|ed25519]
       <cli> jwks --rotate [--from FILE|-] [--type p-256|ed25519] [--keep N]

Prints a value for OIDC_PROVIDER_JWKS: a JSON array of private JWKs, the first of which signs.
Each new key has a kid (its RFC 7638 thumbprint), alg and "use": "sig". Only the JSON goes to
standard output; notes go to standard error.

Options:
  --type TYPE   p-256 (ES256, the default: verified by every JOSE library and browser) or
                ed25519 (EdDSA). With --rotate, the default is the type of the current first key.
  --rotate      Prepend a new key to the current set and keep the others, which still verify
                (and still decrypt upstream tokens when vault keys are derived from the JWKS).
                The current set is read from OIDC_PROVIDER_JWKS (environment, then .env) or --from.
  --from FILE   Read the current set from FILE, or from standard input with "-".
  --keep N      With --rotate: keep at most N keys in all, the new one included.
  -h, --help    Show this help.

Examples:
  heroku config:set OIDC_PROVIDER_JWKS="$(<cli> jwks)"
  heroku config:get OIDC_PROVIDER_JWKS | <cli> jwks --rotate --from - --keep 3
`,
  options: {
    type: { type: 'string' },
    rotate: { type: 'boolean' },
    from: { type: 'string' },
    keep: { type: 'string' },
  },
  async run({ values, positionals }, io) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const type = values.type as string | undefined;
    if (type !== undefined && !(KEY_TYPES as readonly string[]).includes(type.toLowerCase())) {
      throw new UsageError(`--type must be one of ${KEY_TYPES.join(', ')}, got "${type}"`);
    }
    const keep = positiveIntegerOption('keep', values.keep);
    if (!values.rotate && (values.from !== undefined || keep !== undefined)) {
      throw new UsageError(`--${values.from !== undefined ? 'from' : 'keep'} goes with --rotate`);
    }

    let current: JsonWebKey[] = [];
    if (values.rotate) {
      const loaded = await currentSet(values.from as string | undefined, io);
      if (!loaded) return EXIT.failed;
      current = loaded;
    }
    const newKey = generateSigningKey((type?.toLowerCase() as KeyType | undefined) ?? (current[0] && keyTypeOf(current[0])) ?? DEFAULT_TYPE);
    const all = [newKey, ...current];
    const kept = all.slice(0, keep ?? all.length);
    io.out(`${JSON.stringify(kept)}\n`);

    io.err(`new signing key: ${describeKey(newKey)}\n`);
    if (values.rotate) {
      const dropped = all.slice(kept.length);
      if (kept.length > 1) io.err(`kept ${kept.length - 1} older key(s) after it: they still verify; with derived vault keys, run \`<cli> vault-reencrypt\` after deploying before dropping them\n`);
      for (const key of dropped) io.err(`dropped ${describeKey(key)}: upstream tokens sealed with a key derived from it can no longer be read\n`);
    }
    return EXIT.ok;
  },
};

/** The set being rotated; undefined (after saying why) when there is none or it is not valid. */
async function currentSet(from: string | undefined, io: CommandIO): Promise<JsonWebKey[] | undefined> {
  let raw: string | undefined;
  let source: string;
  if (from === '-') {
    source = 'standard input';
    raw = await io.readStdin();
  } else if (from !== undefined) {
    source = from;
    try {
      raw = await readFile(from, 'utf8');
    } catch (err) {
      io.err(`cannot read ${from} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})\n`);
      return undefined;
    }
  } else {
    source = 'OIDC_PROVIDER_JWKS';
    raw = readEnvironment(io.env).OIDC_PROVIDER_JWKS;
  }
  if (raw === undefined || raw.trim() === '') {
    io.err(`--rotate needs the current set, and ${source} is empty or not set${from === undefined ? ' (environment or .env); pass it with --from FILE or --from -' : ''}\n`);
    return undefined;
  }
  try {
    return privateJwks(raw.trim());
  } catch (err) {
    io.err(`${source}: ${(err as Error).message}\n`);
    return undefined;
  }
}
