// Authorization requests as MCP clients send them: `/auth` with response_type=code and the
// parameters a test chooses (PKCE, resource, scope, state), and the S256 challenge of a verifier.
import { createHash } from 'node:crypto';

export function codeChallenge(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

export function authorizeUrl(baseUrl: string, params: Record<string, string>): string {
  return `${baseUrl}/auth?${new URLSearchParams({ response_type: 'code', ...params })}`;
}
