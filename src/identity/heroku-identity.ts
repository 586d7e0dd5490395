// Heroku Identity has no OpenID discovery: its server metadata (IDENTITY_PROVIDER=heroku, and the
// files for IDENTITY_SERVER_METADATA_FILE), and the Platform API call that says who the user is.
// Heroku's proxy shipped these as heroku_identity_{production,staging}_metadata.json beside its
// index.js, and its documents point there (/app/mcp-auth-proxy/heroku_identity_staging_metadata.json);
// `npm run package` writes the same files into the package, so those snippets keep working.
export const HEROKU_IDENTITY_METADATA = {
  production: {
    issuer: 'https://id.heroku.com/',
    authorization_endpoint: 'https://id.heroku.com/oauth/authorize',
    token_endpoint: 'https://id.heroku.com/oauth/token',
    scopes_supported: ['global'],
  },
  staging: {
    issuer: 'https://identity.staging.herokudev.com/',
    authorization_endpoint: 'https://identity.staging.herokudev.com/oauth/authorize',
    token_endpoint: 'https://identity.staging.herokudev.com/oauth/token',
    scopes_supported: ['global'],
  },
} as const;

/** The file name each is written under, as Heroku named them. */
export const herokuMetadataFileName = (environment: keyof typeof HEROKU_IDENTITY_METADATA): string => `heroku_identity_${environment}_metadata.json`;

const ACCOUNT_TIMEOUT_MS = 10_000;

/**
 * The signed-in user's email and name from the Platform API (GET /account, "Account Info"):
 * Heroku Identity's token response names the user (`user_id`) but nothing more. Heroku accounts
 * sign in only after confirming their email, so the address counts as verified.
 */
export async function herokuAccount(apiUrl: URL, accessToken: string): Promise<{ email?: string; email_verified?: boolean; name?: string }> {
  const response = await fetch(`${apiUrl.origin}/account`, {
    headers: { accept: 'application/vnd.heroku+json; version=3', authorization: `Bearer ${accessToken}` },
    signal: AbortSignal.timeout(ACCOUNT_TIMEOUT_MS),
  });
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new Error(`Heroku's Platform API answered GET /account with HTTP ${response.status}`);
  }
  const account = (await response.json()) as { email?: unknown; name?: unknown };
  return {
    ...(typeof account.email === 'string' ? { email: account.email, email_verified: true } : {}),
    ...(typeof account.name === 'string' && account.name !== '' ? { name: account.name } : {}),
  };
}
