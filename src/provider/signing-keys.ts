// Private signing keys for OIDC_PROVIDER_JWKS: generated with node:crypto, named by their RFC 7638
// thumbprint (a kid that is stable, unique and says nothing secret), labelled with the JWS
// algorithm the provider signs with (see signingAlgorithm) and `use: "sig"`.
import { createHash, generateKeyPairSync, type JsonWebKey } from 'node:crypto';

export const KEY_TYPES = ['p-256', 'ed25519'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

/** The JWS algorithm of a signing key, so ID tokens are signed with the operator's first key. */
export function signingAlgorithm(jwk: JsonWebKey): string {
  if (jwk.kty === 'RSA') return 'RS256';
  if (jwk.kty === 'OKP') return 'EdDSA';
  const byCurve: Record<string, string> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' };
  return byCurve[String(jwk.crv)] ?? 'ES256';
}

/** RFC 7638: SHA-256 over the key's required public members, in lexicographic order. */
export function jwkThumbprint(jwk: JsonWebKey): string {
  const required: Record<string, readonly string[]> = { EC: ['crv', 'kty', 'x', 'y'], OKP: ['crv', 'kty', 'x'], RSA: ['e', 'kty', 'n'] };
  const members = required[String(jwk.kty)];
  if (!members) throw new Error(`no thumbprint for kty "${jwk.kty}"`);
  const canonical = `{${members.map((m) => `${JSON.stringify(m)}:${JSON.stringify(jwk[m])}`).join(',')}}`;
  return createHash('sha256').update(canonical).digest('base64url');
}

/** The type of an existing key, when it is one we generate. */
export function keyTypeOf(jwk: JsonWebKey): KeyType | undefined {
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'p-256';
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'ed25519';
  return undefined;
}

export function generateSigningKey(type: KeyType): JsonWebKey {
  const { privateKey } =
    type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  // kid, alg and use first: the order people read them in; the key material follows.
  return { kid: jwkThumbprint(jwk), alg: signingAlgorithm(jwk), use: 'sig', ...jwk };
}

/** What may be said about a key in public (it is in the proxy's /jwks anyway). */
export function describeKey(jwk: JsonWebKey): string {
  const kind = jwk.kty === 'RSA' ? 'RSA' : String(jwk.crv ?? jwk.kty);
  let kid = typeof jwk.kid === 'string' ? jwk.kid : undefined;
  if (kid === undefined) {
    try {
      kid = `${jwkThumbprint(jwk)} (thumbprint)`;
    } catch {
      kid = '(none)';
    }
  }
  return `${kind} ${signingAlgorithm(jwk)} kid=${kid}`;
}
