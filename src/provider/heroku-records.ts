// Records Heroku's mcp-remote-auth-proxy left in a Redis this proxy now reads (an operator
// switching over keeps MCP_AUTH_PROXY_REDIS_PREFIX=oidc:, docs/migrating-from-heroku-proxy.md).
// Its registered clients are worth keeping (many MCP clients never register again), but their
// records carry the user's upstream tokens in plain text (`identityAuth*`), have no expiry, and
// may name what this provider refuses (an ID token algorithm no key of ours signs, Heroku's
// `code token` response type). A client record is cleaned the first time it is read, and every
// one once at startup (sweepHerokuClients), so no plain-text token outlives the switch.
import type { JsonWebKey } from 'node:crypto';
import type { AdapterPayload } from 'oidc-provider';
import type { Logger } from 'pino';
import type { KeyValueStore } from '../storage/store.js';
import { signingAlgorithm } from './signing-keys.js';
import { keys } from '../storage/keys.js';

// Heroku's extraClientMetadata properties (lib/provider-config.js there).
const HEROKU_PROPERTIES = /^identity(Auth|Login)/;

/** The ID token algorithms our keys can sign: a client may keep asking for one of them. */
export function signableAlgorithms(jwks: readonly JsonWebKey[]): Set<string> {
  return new Set(jwks.flatMap((jwk) => (jwk.kty === 'OKP' ? ['EdDSA', 'Ed25519'] : [signingAlgorithm(jwk)])));
}

/** The client record without what Heroku's proxy added or allowed; undefined when it needs nothing. */
export function cleanHerokuClient(payload: AdapterPayload, signable: ReadonlySet<string>): AdapterPayload | undefined {
  const foreign = Object.keys(payload).filter((name) => HEROKU_PROPERTIES.test(name));
  const alg = payload.id_token_signed_response_alg;
  const unsignable = typeof alg === 'string' && !signable.has(alg);
  const responseTypes = Array.isArray(payload.response_types) ? (payload.response_types as unknown[]) : undefined;
  const extraResponseTypes = responseTypes !== undefined && responseTypes.some((t) => t !== 'code');
  if (foreign.length === 0 && !unsignable && !extraResponseTypes) return undefined;
  const cleaned: AdapterPayload = Object.fromEntries(Object.entries(payload).filter(([name]) => !HEROKU_PROPERTIES.test(name)));
  // Our default (the first key's algorithm) applies instead.
  if (unsignable) delete cleaned.id_token_signed_response_alg;
  if (extraResponseTypes) cleaned.response_types = ['code'];
  return cleaned;
}


/**
 * Cleans every client record of Heroku's proxy once (a marker remembers it was done), without
 * touching the expiry of ours. Best effort, in the background: a failure is logged and retried at
 * the next start; each record is also cleaned when it is first read.
 */
export async function sweepHerokuClients(store: KeyValueStore, signable: ReadonlySet<string>, ttlSeconds: number, logger: Logger): Promise<void> {
  try {
    if ((await store.get(keys.herokuClientsSwept)) !== undefined) return;
    let cleaned = 0;
    for await (const key of store.keysWithPrefix(keys.recordPrefix('Client'))) {
      const raw = await store.get(key);
      if (raw === undefined) continue;
      const clean = cleanHerokuClient(JSON.parse(raw) as AdapterPayload, signable);
      if (!clean) continue;
      await store.set(key, JSON.stringify(clean), ttlSeconds);
      cleaned++;
    }
    await store.set(keys.herokuClientsSwept, new Date().toISOString(), 365 * 24 * 3600);
    if (cleaned > 0) logger.info({ cleaned }, "removed the plain-text upstream tokens Heroku's proxy kept on client records");
  } catch (err) {
    logger.warn({ message: (err as Error).message }, "could not clean the client records of Heroku's proxy; retrying at the next start");
  }
}
