// Every key and channel the proxy uses in the store, in one place: its format, what it holds,
// how long it lives and which module owns it (only the owner writes it). The store adds the
// deployment's prefix (MCP_AUTH_PROXY_REDIS_PREFIX). docs/architecture.md has the same table.
//
// | key                                 | holds                                    | lives                              | owner                          |
// |-------------------------------------|------------------------------------------|------------------------------------|--------------------------------|
// | <Model>:<id>                        | an oidc-provider record (JSON)           | the record's own expiry            | provider/adapter.ts            |
// | consumed:<Model>:<id>               | when a code / refresh token was consumed | the record's remaining life        | provider/adapter.ts            |
// | grant:<grantId>                     | index: every key of one grant            | its longest-lived member           | provider/adapter.ts (+ vault)  |
// | account-grants:<b64url accountId>   | index: a user's grant ids                | its longest-lived member           | provider/adapter.ts            |
// | userCode:<code>, uid:<uid>          | the record id a user code / uid names    | the record's                       | provider/adapter.ts            |
// | registration-token:<clientId>       | a client's registration access token id  | the registration's                 | provider/adapter.ts            |
// | upstream:<grantId>                  | the grant's upstream tokens, encrypted   | the grant's                        | identity/vault.ts              |
// | account:<accountId>                 | the user's claims (email, name)          | the grant lifetime, from sign-in   | identity/accounts.ts           |
// | account-email:<b64url email>        | index: account ids with that email       | its longest-lived member           | identity/accounts.ts           |
// | lock:upstream-refresh:<grantId>     | the instance refreshing a grant upstream | 30 s at most                       | identity/refresh.ts            |
// | upstream-state:<state>              | one upstream sign-in (PKCE, nonce)       | 10 minutes, taken once             | interactions/upstream-state.ts |
// | upstream-sign-in:<uid>              | the sign-in under way for an interaction | 10 minutes                         | interactions/upstream-state.ts |
// | local-code:<sha256 code>            | a local sign-in's one-time code          | 60 s, taken once                   | identity/local-sign-in.ts      |
// | totp-used:<sha256 name>:<counter>   | a TOTP code already spent (no replay)    | 2 minutes                          | identity/local-sign-in.ts      |
// | login-failures:<kind>:<sha256 who>  | failed local sign-ins of an account / IP | 15 minutes from the first          | identity/local-sign-in.ts      |
// | csrf:<uid>:<digest>                 | a form token of one sign-in              | 10 minutes (an interaction's)      | interactions/csrf.ts           |
// | consent:<b64url account>:<b64url client> | a remembered confirmation           | MCP_AUTH_PROXY_CONSENT_TTL         | interactions/consents.ts       |
// | consent-ask-again:<uid>             | another person signed in: ask again      | 10 minutes (an interaction's)      | interactions/consents.ts       |
// | mcp-session:<sha256 session id>     | who started an MCP session               | the grant lifetime                 | mcp/session-binding.ts         |
// | fetch-cache:<sha256 url>            | a client metadata document               | its cache headers (30 s to 1 day)  | provider/client-metadata-documents.ts |
// | ratelimit:<class>:<who>:<window>    | a request counter                        | the window                         | http/rate-limit.ts             |
// | readiness-probe                     | the time of the last readiness write     | 60 s                               | http/health.ts                 |
// | heroku-clients-swept                | Heroku's client records were cleaned     | a year                             | provider/heroku-records.ts     |
//
// | channel                             | carries                                  | owner                              |
// |-------------------------------------|------------------------------------------|------------------------------------|
// | invalidations                       | revoked tokens and grants, for caches    | storage/invalidation.ts            |
import { createHash } from 'node:crypto';

const base64url = (text: string): string => Buffer.from(text).toString('base64url');
const sha256 = (text: string): string => createHash('sha256').update(text).digest('base64url');

export const keys = {
  /** An oidc-provider record (Grant, AccessToken, Client, Session …). */
  record: (model: string, id: string): string => `${model}:${id}`,
  recordPrefix: (model: string): string => `${model}:`,
  /** The consumption marker of a consumable record's key (SET NX decides who consumed it). */
  consumed: (recordKey: string): string => `consumed:${recordKey}`,
  /** Every key that belongs to a grant (its tokens, its upstream tokens). */
  grantIndex: (grantId: string): string => `grant:${grantId}`,
  accountGrants: (accountId: string): string => `account-grants:${base64url(accountId)}`,
  userCode: (userCode: string): string => `userCode:${userCode}`,
  uid: (uid: string): string => `uid:${uid}`,
  registrationToken: (clientId: string): string => `registration-token:${clientId}`,
  upstreamTokens: (grantId: string): string => `upstream:${grantId}`,
  upstreamTokensPrefix: 'upstream:',
  account: (accountId: string): string => `account:${accountId}`,
  accountsByEmail: (email: string): string => `account-email:${base64url(email.toLowerCase())}`,
  upstreamRefreshLock: (grantId: string): string => `lock:upstream-refresh:${grantId}`,
  upstreamState: (state: string): string => `upstream-state:${state}`,
  upstreamSignIn: (uid: string): string => `upstream-sign-in:${uid}`,
  /** A local sign-in's one-time code, by digest (the code passes through the browser). */
  localCode: (code: string): string => `local-code:${sha256(code)}`,
  totpUsed: (name: string, counter: number): string => `totp-used:${sha256(name.toLowerCase())}:${counter}`,
  loginFailures: (kind: 'account' | 'address', who: string): string => `login-failures:${kind}:${sha256(who.toLowerCase())}`,
  /** A form token is stored by digest: the store never holds the token itself. */
  formToken: (uid: string, tokenDigest: string): string => `csrf:${uid}:${tokenDigest}`,
  consent: (accountId: string, clientId: string): string => `consent:${base64url(accountId)}:${base64url(clientId)}`,
  consentAskAgain: (uid: string): string => `consent-ask-again:${uid}`,
  mcpSession: (sessionId: string): string => `mcp-session:${sha256(sessionId)}`,
  fetchCache: (url: string): string => `fetch-cache:${sha256(url)}`,
  rateLimit: (name: string, who: string, window: number): string => `ratelimit:${name}:${who}:${window}`,
  /** A user's /mcp requests (or GET streams) in flight on every instance, as leases. */
  mcpInFlight: (kind: 'requests' | 'streams', accountId: string): string => `mcp-in-flight:${kind}:${base64url(accountId)}`,
  readinessProbe: 'readiness-probe',
  herokuClientsSwept: 'heroku-clients-swept',
} as const;

export const channels = {
  invalidations: 'invalidations',
} as const;
