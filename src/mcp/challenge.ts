// RFC 6750 / RFC 9728 bearer challenges for the MCP endpoint.
import type { Response } from 'express';
import type { Config } from '../config/index.js';
import { resourceScopes } from '../provider/configuration.js';

export type BearerError = 'invalid_token' | 'invalid_request';

export function sendChallenge(res: Response, config: Config, error?: BearerError, description?: string): void {
  const scopes = resourceScopes(config);
  const params = [
    ...(error ? [`error="${error}"`] : []),
    ...(description ? [`error_description="${description.replace(/["\\]/g, '')}"`] : []),
    `resource_metadata="${config.mcp.resourceMetadataUrl}"`,
    ...(scopes.length ? [`scope="${scopes.join(' ')}"`] : []),
  ];
  res
    .status(error === 'invalid_request' ? 400 : 401)
    .set('WWW-Authenticate', `Bearer ${params.join(', ')}`)
    .set('Cache-Control', 'no-store')
    .json({ error: error ?? 'invalid_token', error_description: description ?? 'Authorization required' });
}
