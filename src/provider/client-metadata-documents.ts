// Client ID Metadata Documents (MCP 2025-11-25): an https URL as client_id, whose JSON document
// oidc-provider fetches and validates (SSRF-guarded dispatcher, 2.5 s timeout, 5 kB limit,
// client_id equal to the URL, no shared secrets). We add what it lacks: documents cached in the
// shared store, so every instance uses one fetch (within the document's own cache headers, 30 s to
// 1 day), and operator allow/deny lists of hosts.
import https from 'node:https';
import type { Configuration } from 'oidc-provider';
import { hostMatches } from '../http/hosts.js';
import { isLoopbackHost } from '../http/loopback.js';
import type { KeyValueStore } from '../storage/store.js';
import { spendQuota } from '../http/rate-limit.js';
import { clientAddress } from '../http/client-address.js';
import { keys } from '../storage/keys.js';

export interface ClientMetadataDocumentOptions {
  enabled: boolean;
  /** Hosts (exact, or `*.example.com`) allowed to publish documents; empty: any public host. */
  allowedHosts: string[];
  deniedHosts: string[];
  /** Test-only: fetch documents from loopback hosts, trusting their self-signed certificates. */
  allowLoopback: boolean;
}

export const CACHE_BOUNDS = { min: 30, max: 86_400 };
// oidc-provider's own limit: a larger body is no document, and is neither read further nor kept.
const MAX_DOCUMENT_BYTES = 5 * 1024;

interface CachedResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  expiresAt: number;
}

export function cacheSeconds(headers: Headers): number | undefined {
  const cacheControl = headers.get('cache-control') ?? '';
  if (/(^|,)\s*(no-store|no-cache|private)\b/i.test(cacheControl)) return undefined;
  const maxAge = /(?:^|,)\s*max-age\s*=\s*(\d+)/i.exec(cacheControl)?.[1];
  let seconds = maxAge !== undefined ? Number(maxAge) : undefined;
  const expires = headers.get('expires');
  if (seconds === undefined && expires && !Number.isNaN(Date.parse(expires))) {
    seconds = Math.floor((Date.parse(expires) - Date.now()) / 1000);
  }
  return Math.max(CACHE_BOUNDS.min, Math.min(CACHE_BOUNDS.max, seconds ?? CACHE_BOUNDS.min));
}

async function readBounded(response: Response): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let received = 0;
  for await (const chunk of response.body ?? []) {
    received += chunk.length;
    if (received > MAX_DOCUMENT_BYTES) throw new Error('response too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Test-only: GET over https from a loopback host with a self-signed certificate. */
function loopbackGet(url: string, signal: AbortSignal | undefined): Promise<Response> {
  return new Promise((resolve, reject) => {
    const request = https.get(url, { rejectUnauthorized: false, signal, headers: { accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') headers.set(name, value);
        resolve(new Response(new Uint8Array(Buffer.concat(chunks)), { status: res.statusCode ?? 502, headers }));
      });
      res.on('error', reject);
    });
    request.on('error', reject);
  });
}


/**
 * A client metadata document (a JSON object naming its own URL as client_id) as this provider
 * can take it: no token_endpoint_auth_method means `none` (a CIMD client has no secret; the draft
 * says so, oidc-provider would default to a secret method and refuse it), and only the scopes a
 * client may register (resource scopes are granted per resource). Undefined for anything that is
 * not a client's document (not JSON, not an object, another client_id): it is never kept.
 */
export function normalizeClientDocument(body: Buffer, url: string, registrableScopes: readonly string[]): Buffer | undefined {
  let document: unknown;
  try {
    document = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) return undefined;
  const metadata = document as Record<string, unknown>;
  if (metadata.client_id !== url) return undefined;
  const normalized = { ...metadata };
  normalized.token_endpoint_auth_method ??= 'none';
  if (typeof normalized.scope === 'string') {
    const kept = normalized.scope.split(' ').filter((scope) => registrableScopes.includes(scope));
    if (kept.length > 0) normalized.scope = kept.join(' ');
    else delete normalized.scope;
  }
  return Buffer.from(JSON.stringify(normalized));
}

/** oidc-provider's outbound fetch, with GET responses shared through the store. */
export function cachingFetch(store: KeyValueStore, options: Pick<ClientMetadataDocumentOptions, 'allowLoopback'>, registrableScopes: readonly string[]) {
  return async (url: URL | string, init: RequestInit & { signal?: AbortSignal }): Promise<Response> => {
    const href = String(url);
    if ((init.method ?? 'GET') !== 'GET') return globalThis.fetch(href, init);
    const key = keys.fetchCache(href);
    const cached = await store.get(key);
    if (cached !== undefined) {
      const hit = JSON.parse(cached) as CachedResponse;
      const remaining = Math.max(0, Math.floor((hit.expiresAt - Date.now()) / 1000));
      return new Response(hit.body, { status: hit.status, headers: { ...hit.headers, 'cache-control': `max-age=${remaining}` } });
    }
    const loopback = options.allowLoopback && isLoopbackHost(new URL(href).hostname);
    const response = loopback ? await loopbackGet(href, init.signal) : await globalThis.fetch(href, init);
    const raw = await readBounded(response);
    // Only a client's own document is kept (every instance then uses it); oidc-provider refuses the rest.
    const document = response.status === 200 ? normalizeClientDocument(raw, href, registrableScopes) : undefined;
    const body = document ?? raw;
    const headers: Record<string, string> = {};
    for (const name of ['content-type', 'cache-control', 'expires']) {
      const value = response.headers.get(name);
      if (value !== null) headers[name] = value;
    }
    const ttl = document ? cacheSeconds(response.headers) : undefined;
    if (ttl !== undefined) {
      const entry: CachedResponse = { status: 200, headers, body: body.toString('utf8'), expiresAt: Date.now() + ttl * 1000 };
      await store.set(key, JSON.stringify(entry), ttl);
    }
    return new Response(new Uint8Array(body), { status: response.status, headers });
  };
}

type CimdFeature = NonNullable<NonNullable<Configuration['features']>['clientIdMetadataDocument']>;

/**
 * A document fetched for the first time is an anonymous registration (the proxy keeps it): it
 * spends the registration quota of the client IP that asked for it.
 */
export interface FirstFetchQuota {
  store: KeyValueStore;
  max: number;
  windowMs: number;
}

export function clientMetadataDocumentFeature(options: ClientMetadataDocumentOptions, quota?: FirstFetchQuota): CimdFeature {
  return {
    enabled: options.enabled,
    ack: 'draft-02',
    cacheDuration: CACHE_BOUNDS,
    async allowFetch(_ctx, clientId) {
      const host = new URL(clientId).hostname;
      if (hostMatches(host, options.deniedHosts)) return false;
      if (options.allowedHosts.length > 0 && !hostMatches(host, options.allowedHosts)) return false;
      // oidc-provider's dispatcher refuses special-use addresses; loopback names are refused here too.
      if (!options.allowLoopback && isLoopbackHost(host)) return false;
      if (!quota || (await quota.store.get(keys.fetchCache(clientId))) !== undefined) return true;
      return (await spendQuota(quota.store, { name: 'registration', max: quota.max, windowMs: quota.windowMs }, clientAddress() ?? 'unknown')).allowed;
    },
  } as CimdFeature;
}
