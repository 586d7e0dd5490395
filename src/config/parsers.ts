// Parsers for raw environment text. Each returns the typed value or throws an Error whose
// message says what is wrong with the value (the loader prefixes the variable's name).
import { createPrivateKey, createPublicKey, sign, verify, X509Certificate, type JsonWebKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { normalizeHost } from '../http/hosts.js';
import { PolicyError, readPolicy, type Policy } from '../policy/policy.js';

export const text = (raw: string): string => raw;

export function bool(raw: string): boolean {
  const value = raw.trim().toLowerCase();
  if (['true', '1', 'yes'].includes(value)) return true;
  if (['false', '0', 'no', ''].includes(value)) return false;
  throw new Error(`must be true or false, got "${raw}"`);
}

export function positiveInt(raw: string): number {
  if (!/^\d+$/.test(raw.trim())) throw new Error(`must be a positive whole number, got "${raw}"`);
  const value = Number(raw.trim());
  if (value < 1 || !Number.isSafeInteger(value)) throw new Error(`must be a positive whole number, got "${raw}"`);
  return value;
}

export function nonNegativeInt(raw: string): number {
  return raw.trim() === '0' ? 0 : positiveInt(raw);
}

/** Origins such as https://app.example.com, or `*`. */
export function originList(raw: string): string[] {
  const entries = raw.split(',').map((s) => s.trim()).filter(Boolean);
  return entries.map((entry) => {
    if (entry === '*') return entry;
    const url = URL.parse(entry);
    if (!url || !['http:', 'https:'].includes(url.protocol) || url.origin !== entry.replace(/\/$/, '')) {
      throw new Error(`"${entry}" is not an origin such as https://app.example.com`);
    }
    return url.origin;
  });
}

/** Host names (IDNA, IP literals and a trailing dot allowed), or `*.example.com` wildcards; normalized. */
export function hostList(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const host = normalizeHost(entry);
      if (host === undefined || entry.slice(entry.startsWith('*.') ? 2 : 0).includes('*')) throw new Error(`"${entry}" is not a host name (or *.example.com)`);
      return entry.startsWith('*.') ? `*.${host}` : host;
    });
}

/** An HTTP header name (RFC 9110 token), kept lower-case as Node does. */
export function headerName(raw: string): string {
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(raw)) throw new Error(`"${raw}" is not a valid header name`);
  return raw.toLowerCase();
}

export function port(raw: string): number {
  const value = positiveInt(raw);
  if (value > 65535) throw new Error(`must be a port number (1-65535), got "${raw}"`);
  return value;
}

function absoluteUrl(raw: string, protocols: readonly string[]): URL {
  const url = URL.parse(raw.trim());
  if (!url) throw new Error(`must be an absolute URL, got "${raw}"`);
  if (!protocols.includes(url.protocol)) {
    throw new Error(`must use ${protocols.map((p) => p.slice(0, -1)).join(' or ')}, got "${url.protocol.slice(0, -1)}"`);
  }
  return url;
}

export function httpUrl(raw: string): URL {
  const url = absoluteUrl(raw, ['http:', 'https:']);
  if (url.hash) throw new Error('must not contain a #fragment');
  return url;
}

/** A bare origin: scheme, host and port, nothing else (it becomes the OAuth issuer). */
export function origin(raw: string): URL {
  const url = httpUrl(raw.trim().replace(/\/+$/, ''));
  if (url.pathname !== '/' || url.search || url.username || url.password) {
    throw new Error(`must be an origin such as https://my-app.herokuapp.com (no path, query or credentials), got "${raw}"`);
  }
  return url;
}

/** Its messages never repeat the value: the URL holds the Redis password. */
export function redisUrl(raw: string): URL {
  const url = URL.parse(raw.trim());
  if (!url || !['redis:', 'rediss:'].includes(url.protocol)) throw new Error('must be a redis:// or rediss:// URL');
  return url;
}

/** One of a fixed set of words (case-insensitive). */
export function oneOf<const T extends readonly string[]>(choices: T): (raw: string) => T[number] {
  return (raw) => {
    const value = raw.trim().toLowerCase();
    const choice = choices.find((c) => c === value);
    if (choice === undefined) throw new Error(`must be one of ${choices.join(', ')}, got "${raw}"`);
    return choice;
  };
}

/** MCP_AUTH_PROXY_POLICY: every problem of the policy in one message. */
export function policy(raw: string): Policy {
  try {
    return readPolicy(raw);
  } catch (err) {
    if (err instanceof PolicyError) throw new Error(err.problems.join('; '));
    throw err;
  }
}

/** One environment variable name. */
export function envName(raw: string): string {
  const name = raw.trim();
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`"${name}" is not an environment variable name`);
  return name;
}

/** Environment variable names, comma-separated. */
export function envNameList(raw: string): string[] {
  const names = list(raw);
  const bad = names.find((n) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(n));
  if (bad !== undefined) throw new Error(`"${bad}" is not an environment variable name`);
  return names;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** PEM certificates given as text (a config var) or as the path of a file holding them. */
export function pemCertificates(raw: string): string {
  let text = raw;
  if (!raw.includes('-----BEGIN')) {
    try {
      text = readFileSync(raw.trim(), 'utf8');
    } catch {
      throw new Error(`must be PEM certificates or the path of a readable PEM file, got "${raw}"`);
    }
  }
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new Error('holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
  blocks.forEach((block, i) => {
    try {
      new X509Certificate(block);
    } catch (err) {
      throw new Error(`certificate ${i + 1} is not valid (${(err as Error).message})`);
    }
  });
  return blocks.join('\n');
}

export function urlPath(raw: string): string {
  if (!/^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/.test(raw)) {
    throw new Error(`must be a URL path starting with "/", got "${raw}"`);
  }
  return raw;
}

/**
 * OAuth scopes, separated by spaces or commas (Heroku's documents accept both), in order and
 * without duplicates. A token that cannot be a scope (RFC 6749 §3.3) is refused, naming it.
 */
export function scopeList(raw: string): string[] {
  const scopes = raw.split(/[\s,]+/).filter(Boolean);
  if (scopes.length === 0) throw new Error('must list at least one scope');
  const bad = scopes.find((s) => !/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(s));
  if (bad !== undefined) {
    const quoted = /^["']|["']$/.test(bad) ? ' (remove the quotes around the value)' : '';
    throw new Error(`contains an invalid scope token "${bad}"${quoted}`);
  }
  return [...new Set(scopes)];
}

/** `secret`: the error names the position only (V8's message quotes the text around it). */
function json(raw: string, { secret = false } = {}): unknown {
  try {
    return JSON.parse(raw);
  } catch (err) {
    if (!secret) throw new Error(`must be valid JSON (${(err as Error).message})`);
    const position = /position (\d+)/.exec((err as Error).message)?.[1];
    throw new Error(`must be valid JSON (${position !== undefined ? `syntax error at offset ${position}` : 'it is cut short or malformed'})`);
  }
}

export function stringArrayJson(raw: string): string[] {
  const value = json(raw);
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new Error('must be a JSON array of strings, e.g. ["--port", "3000"]');
  }
  return value;
}

/**
 * A JSON object of environment variables. JSON numbers and booleans become their text, as in any
 * environment (Heroku's documents give `{"PORT":3000}`); objects, arrays and null are refused.
 */
export function envMapJson(raw: string): Record<string, string> {
  const value = json(raw);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error('must be a JSON object of variables, e.g. {"PORT": 3000, "API_URL": "https://api.example.com"}');
  }
  const env: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    // The only names an environment cannot hold.
    if (key === '' || /[=\0]/.test(key)) throw new Error(`"${key}" cannot be an environment variable name`);
    if (typeof v === 'string') env[key] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') env[key] = String(v);
    else throw new Error(`"${key}" must be a string, number or boolean, not ${v === null ? 'null' : Array.isArray(v) ? 'an array' : 'an object'}`);
  }
  return env;
}

export function existingDirectory(raw: string): string {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(raw).isDirectory();
  } catch {
    throw new Error(`"${raw}" does not exist`);
  }
  if (!isDirectory) throw new Error(`"${raw}" is not a directory`);
  return raw;
}

export function viewsDirectory(raw: string): string {
  if (!isAbsolute(raw)) throw new Error(`must be an absolute path, got "${raw}"`);
  existingDirectory(raw);
  for (const view of ['confirm-login.ejs', '_layout.ejs']) {
    try {
      statSync(join(raw, view));
    } catch {
      throw new Error(`"${raw}" has no ${view}`);
    }
  }
  return raw;
}

const SIGNING_KEY_TYPES: Record<string, (jwk: JsonWebKey) => boolean> = {
  RSA: (jwk) => typeof jwk.n === 'string' && typeof jwk.p === 'string',
  EC: (jwk) => ['P-256', 'P-384', 'P-521'].includes(String(jwk.crv)),
  OKP: (jwk) => jwk.crv === 'Ed25519',
};

export function privateJwks(raw: string): JsonWebKey[] {
  const value = json(raw, { secret: true });
  // Also accept the {"keys": [...]} JWKS shape, which key generators commonly print.
  const keys = Array.isArray(value) ? value : (value as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new Error('must be a non-empty JSON array of private JWKs');
  keys.forEach((jwk: JsonWebKey, i) => {
    const where = `key ${i + 1}`;
    if (typeof jwk !== 'object' || jwk === null) throw new Error(`${where} is not a JSON object`);
    const check = SIGNING_KEY_TYPES[String(jwk.kty)];
    if (!check) throw new Error(`${where} has unsupported kty "${jwk.kty}" (use RSA, EC or OKP Ed25519)`);
    if (!check(jwk)) throw new Error(`${where} (${jwk.kty}) has an unsupported curve or missing parameters`);
    if (typeof jwk.d !== 'string') throw new Error(`${where} is a public key; private keys (with "d") are required`);
    if (!signsAndVerifies(jwk, where)) {
      throw new Error(`${where} has a private part that is broken or does not match its public parameters`);
    }
  });
  return keys as JsonWebKey[];
}

/**
 * Loads the private key itself (the public half alone would accept a broken "d") and checks that
 * what it signs verifies with the key's public parameters (Node does not compare them).
 */
function signsAndVerifies(jwk: JsonWebKey, where: string): boolean {
  const { kty, crv, n, e, x, y } = jwk;
  const publicJwk = Object.fromEntries(Object.entries({ kty, crv, n, e, x, y }).filter(([, v]) => v !== undefined));
  let publicKey;
  try {
    publicKey = createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' });
  } catch (err) {
    throw new Error(`${where} is not a valid private JWK (${(err as Error).message})`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey({ key: jwk, format: 'jwk' });
  } catch (err) {
    // A broken "d", missing RSA parameters, or (Node 24 checks it here) another key's "d".
    throw new Error(`${where} has a private part that is broken or does not match its public parameters (${(err as Error).message})`);
  }
  const digest = kty === 'OKP' ? null : 'sha256';
  const probe = Buffer.from('mcp-auth-proxy key check');
  try {
    return verify(digest, probe, publicKey, sign(digest, probe, privateKey));
  } catch {
    return false;
  }
}

export function list(raw: string): string[] {
  return raw.split(',').map((s) => s.trim()).filter(Boolean);
}

export const lowerCaseList = (raw: string): string[] => list(raw.toLowerCase());

export function cookieKeys(raw: string): string[] {
  const keys = list(raw);
  if (keys.length === 0) throw new Error('must list at least one key');
  if (keys.some((k) => k.length < 32)) throw new Error('every key must be at least 32 characters long');
  return keys;
}

export function vaultKeys(raw: string): Buffer[] {
  const keys = list(raw).map((k, i) => {
    const bytes = /^[0-9a-fA-F]{64}$/.test(k) ? Buffer.from(k, 'hex') : Buffer.from(k, 'base64');
    if (bytes.length !== 32) throw new Error(`key ${i + 1} must be 32 bytes, base64 or hex encoded`);
    return bytes;
  });
  if (keys.length === 0) throw new Error('must list at least one key');
  return keys;
}

export interface ServerMetadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  [key: string]: unknown;
}

export function serverMetadataFile(raw: string): ServerMetadata {
  let content: string;
  try {
    content = readFileSync(raw, 'utf8');
  } catch {
    throw new Error(`cannot read "${raw}"`);
  }
  const value = json(content) as Partial<ServerMetadata> | null;
  if (typeof value !== 'object' || value === null) throw new Error('must contain a JSON object');
  for (const field of ['issuer', 'authorization_endpoint', 'token_endpoint'] as const) {
    const url = typeof value[field] === 'string' ? URL.parse(value[field]) : null;
    if (!url || !['http:', 'https:'].includes(url.protocol)) {
      throw new Error(`"${raw}" must have an absolute http(s) URL in "${field}"`);
    }
  }
  // Heroku's documented files give `"scopes_supported": "global"`: a list of one.
  const scopes = value.scopes_supported;
  if (typeof scopes === 'string') return { ...value, scopes_supported: scopes.split(/[\s,]+/).filter(Boolean) } as ServerMetadata;
  if (scopes !== undefined && !(Array.isArray(scopes) && scopes.every((s) => typeof s === 'string'))) {
    throw new Error(`"${raw}": "scopes_supported" must be a list of scopes`);
  }
  return value as ServerMetadata;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
export function logLevel(raw: string): string {
  const level = raw.trim().toLowerCase();
  if (!LOG_LEVELS.includes(level)) throw new Error(`must be one of ${LOG_LEVELS.join(', ')}, got "${raw}"`);
  return level;
}

/** A comma-separated choice among `allowed` (OTEL_TRACES_EXPORTER and the like). */
export function choiceList(allowed: readonly string[]) {
  return (raw: string): string[] => {
    const values = list(raw.toLowerCase());
    const bad = values.find((v) => !allowed.includes(v));
    if (bad !== undefined) throw new Error(`must be one or more of ${allowed.join(', ')}, got "${bad}"`);
    return values;
  };
}

/** A credential sent in a header as is: visible ASCII, no spaces (RFC 6750's b64token and API keys alike). */
export function headerToken(raw: string): string {
  if (!/^[\x21-\x7E]+$/.test(raw)) throw new Error('must be printable characters without spaces');
  return raw;
}

/**
 * Headers the proxy itself owns on the way to the MCP server: the credentials (MCP_SERVER_CREDENTIALS),
 * the connection, and what the MCP transport says about the request.
 */
const NOT_CONFIGURABLE = new Set([
  'authorization',
  'host',
  'connection',
  'keep-alive',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'content-type',
  'accept',
  'cookie',
  'mcp-session-id',
  'mcp-protocol-version',
  'last-event-id',
  'x-authorization-scope',
  'x-dynamic-client-id',
  'x-mcp-identity-provider',
  'forwarded',
  'x-real-ip',
]);

/**
 * Extra headers for the MCP server: `Name:value` pairs separated by commas (sigbit's PROXY_HEADERS
 * format: `X-Api-Key:abc,X-Tenant:acme`) or a JSON object of strings. Names are lower-cased.
 */
export function headerPairs(raw: string): Record<string, string> {
  const entries: [string, unknown][] = raw.trim().startsWith('{')
    ? Object.entries(jsonObject(raw))
    : raw.split(',').filter((pair) => pair.trim() !== '').map((pair, index) => {
        const colon = pair.indexOf(':');
        // Not quoted: the value is secret, and a pair without a colon may be a value.
        if (colon < 1) throw new Error(`entry ${index + 1} is not Name:value`);
        return [pair.slice(0, colon).trim(), pair.slice(colon + 1).trim()];
      });
  const headers: Record<string, string> = {};
  for (const [rawName, value] of entries) {
    const name = headerName(rawName);
    if (NOT_CONFIGURABLE.has(name) || name.startsWith('x-forwarded-')) throw new Error(`${rawName} is set by the proxy itself and cannot be configured`);
    if (typeof value !== 'string' || !/^[\x20-\x7E]*$/.test(value)) throw new Error(`the value of ${rawName} must be printable text on one line`);
    if (name in headers) throw new Error(`${rawName} is given twice`);
    headers[name] = value;
  }
  return headers;
}

function jsonObject(raw: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new Error('is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('must be a JSON object of header names to values');
  return value as Record<string, unknown>;
}

export function bearerSecret(raw: string): string {
  if (!/^[\x21-\x7E]{16,}$/.test(raw)) throw new Error('must be at least 16 printable characters without spaces');
  return raw;
}

/** A local account: its name (the user id; an email when it has an @) and its password hash. */
export interface LocalUser {
  name: string;
  hash: string;
  /** A TOTP secret (RFC 6238, base32): the account also needs an authenticator's code. */
  totp?: string;
}

// argon2id in PHC form ($argon2id$v=19$m=…,p=…,t=…$salt$hash, parameters in any order), or bcrypt ($2a$/$2b$/$2y$, cost, 53 characters).
const ARGON2ID = /^\$argon2id\$v=\d+\$[mtp]=\d+(?:,[mtp]=\d+){2}\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;
const BCRYPT = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;
const LOCAL_NAME = /^[^\s:,#]{1,254}$/;

/**
 * IDENTITY_LOCAL_USERS: the absolute path of a file with one `name:hash` per line (blank lines and
 * `#` comments allowed), or the entries inline, separated by commas (an argon2 hash's own commas
 * are told apart: a new entry starts with `name:$`). Only argon2id and bcrypt hashes are taken.
 * A third field, `name:hash:SECRET`, is the account's TOTP secret (base32).
 */
export function localUsers(raw: string): LocalUser[] {
  let entries: string[];
  if (isAbsolute(raw)) {
    let content: string;
    try {
      content = readFileSync(raw, 'utf8');
    } catch {
      throw new Error(`cannot read "${raw}"`);
    }
    entries = content.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
  } else {
    entries = raw.split(/,(?=\s*[^\s:,#]+:\$)/).map((entry) => entry.trim()).filter(Boolean);
  }
  const users: LocalUser[] = [];
  entries.forEach((entry, index) => {
    // Not quoted: entries hold password hashes.
    const colon = entry.indexOf(':');
    const name = entry.slice(0, colon);
    // name:hash, or name:hash:TOTPSECRET (hashes hold no colon).
    const [hash = '', totp, ...rest] = entry.slice(colon + 1).split(':');
    if (rest.length > 0 || (totp !== undefined && !/^[A-Z2-7]{16,128}=*$/.test(totp))) {
      throw new Error(`the third field of ${name} is not a base32 TOTP secret (make one with \`mcp-auth-proxy hash-password --totp\`)`);
    }
    if (colon < 1 || !LOCAL_NAME.test(name)) throw new Error(`entry ${index + 1} does not start with a user name and a colon`);
    if (!ARGON2ID.test(hash) && !BCRYPT.test(hash)) {
      throw new Error(`the hash of ${name} is not an argon2id or bcrypt hash (make one with \`mcp-auth-proxy hash-password\`)`);
    }
    if (users.some((user) => user.name.toLowerCase() === name.toLowerCase())) throw new Error(`${name} is given twice`);
    users.push({ name, hash, ...(totp ? { totp } : {}) });
  });
  if (users.length === 0) throw new Error('lists no account');
  return users;
}

/** A block name of IDENTITY_PROVIDERS: a letter, then letters, digits or dashes. */
export const BLOCK_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/** IDENTITY_PROVIDERS: block names, lower-case letters, digits and dashes, each once, at least two. */
export function blockNames(raw: string): string[] {
  const names = list(raw.toLowerCase());
  const bad = names.find((name) => !BLOCK_NAME.test(name));
  if (bad !== undefined) throw new Error(`"${bad}" is not a block name (a letter, then letters, digits or dashes, at most 32)`);
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice !== undefined) throw new Error(`${twice} is given twice`);
  if (names.length < 2) throw new Error('names at least two providers (one provider is configured with the IDENTITY_* settings)');
  return names;
}
