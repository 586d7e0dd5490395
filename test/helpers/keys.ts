// Signing keys for test deployments: OIDC_PROVIDER_JWKS with one fresh P-256 key.
import { generateKeyPairSync } from 'node:crypto';

export function privateJwks(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return JSON.stringify([privateKey.export({ format: 'jwk' })]);
}
