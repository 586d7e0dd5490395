// Heroku Identity has no OpenID discovery: its server metadata, for IDENTITY_SERVER_METADATA_FILE.
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
