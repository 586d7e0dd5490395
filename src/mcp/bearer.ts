// Checks the client's bearer token on every /mcp request: present, issued by us, unexpired,
// bound to this resource, and backed by a live grant with upstream tokens.
import type { NextFunction, Request, Response } from 'express';
import type { default as Provider } from 'oidc-provider';
import type { Config } from '../config/types.js';
import type { AccountStore } from '../identity/accounts.js';
import type { UpstreamTokenVault } from '../identity/vault.js';
import { resourceScopes } from '../provider/scopes.js';
import { tokenHash } from '../storage/invalidation.js';
import type { CallerCache } from './caller-cache.js';
import { setCaller, type McpCaller } from './caller.js';
import { sendChallenge } from './challenge.js';

// Our opaque tokens are 43 base64url characters; anything far off is rejected without a lookup.
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{20,256}$/;

/** Every scope of the MCP resource in PROVIDER_SCOPE is required; a token without one gets a step-up challenge. */
function missingScopes(required: readonly string[], granted: string): string[] {
  const have = new Set(granted.split(' '));
  return required.filter((scope) => !have.has(scope));
}

export interface BearerDependencies {
  config: Config;
  provider: Provider;
  vault: UpstreamTokenVault;
  accounts: AccountStore;
  cache: CallerCache;
}

export function bearerAuth({ config, provider, vault, accounts, cache }: BearerDependencies) {
  const required = resourceScopes(config);
  return async function checkBearer(req: Request, res: Response, next: NextFunction): Promise<void> {
    const header = req.headers.authorization;
    if (!header) return sendChallenge(res, config);
    const match = /^Bearer +(\S+) *$/i.exec(header);
    if (!match) return sendChallenge(res, config, 'invalid_request', 'Authorization must be a Bearer token');
    const value = match[1]!;
    if (!TOKEN_SHAPE.test(value)) return sendChallenge(res, config, 'invalid_token', 'The access token is invalid');

    const hash = tokenHash(value);
    const cached = cache.get(hash);
    if (cached) {
      setCaller(res, cached);
      return next();
    }

    const token = await provider.AccessToken.find(value);
    if (!token || token.isExpired) return sendChallenge(res, config, 'invalid_token', 'The access token is invalid or expired');
    const audiences = ([] as unknown[]).concat(token.aud ?? []);
    if (!audiences.includes(config.mcp.resource)) {
      return sendChallenge(res, config, 'invalid_token', 'The access token is not for this resource');
    }
    if (missingScopes(required, token.scope ?? '').length > 0) {
      return sendChallenge(res, config, 'insufficient_scope', 'The access token lacks scopes this resource requires');
    }
    const upstream = token.grantId ? await vault.load(token.grantId) : undefined;
    if (!upstream || !token.grantId) return sendChallenge(res, config, 'invalid_token', 'The grant of this token was revoked');

    const account = await accounts.find(token.accountId!);
    const caller: McpCaller = {
      grantId: token.grantId,
      clientId: token.clientId!,
      accountId: token.accountId!,
      email: account.email,
      groups: account.groups ?? [],
      scope: token.scope ?? '',
      upstream,
    };
    cache.set(hash, caller, token.exp! * 1000);
    setCaller(res, caller);
    next();
  };
}
