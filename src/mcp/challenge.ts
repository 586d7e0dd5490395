// RFC 6750 / RFC 9728 bearer challenges for the MCP endpoint.
import type { Response } from 'express';
import type { Config } from '../config/types.js';
import { sendJsonError } from '../http/json-error.js';
import { resourceScopes } from '../provider/configuration.js';
import { markDenied } from '../telemetry/request-metrics.js';

export type BearerError = 'invalid_token' | 'invalid_request' | 'insufficient_scope';

const STATUS: Record<BearerError, number> = { invalid_request: 400, invalid_token: 401, insufficient_scope: 403 };

export function sendChallenge(res: Response, config: Config, error?: BearerError, description?: string): void {
  const scopes = resourceScopes(config);
  const params = [
    ...(error ? [`error="${error}"`] : []),
    ...(description ? [`error_description="${description.replace(/["\\]/g, '')}"`] : []),
    `resource_metadata="${config.mcp.resourceMetadataUrl}"`,
    ...(scopes.length ? [`scope="${scopes.join(' ')}"`] : []),
  ];
  res.set('WWW-Authenticate', `Bearer ${params.join(', ')}`);
  markDenied(res, error ?? 'missing_token');
  sendJsonError(res, error ? STATUS[error] : 401, error ?? 'invalid_token', description ?? 'Authorization required');
}
