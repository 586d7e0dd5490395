// RFC 6750 / RFC 9728 bearer challenges for the MCP endpoint.
import type { Response } from 'express';
import type { Config } from '../config/types.js';
import { resourceScopes } from '../provider/scopes.js';
import { markDenied } from '../telemetry/request-metrics.js';
import { problems, sendProblem, type BearerError } from '../http/problems.js';

export function sendChallenge(res: Response, config: Config, error?: BearerError, description?: string): void {
  const scopes = resourceScopes(config);
  const params = [
    ...(error ? [`error="${error}"`] : []),
    ...(description ? [`error_description="${description.replace(/["\\]/g, '')}"`] : []),
    `resource_metadata="${config.mcp.resourceMetadataUrl}"`,
    ...(scopes.length ? [`scope="${scopes.join(' ')}"`] : []),
  ];
  markDenied(res, error ?? 'missing_token');
  sendProblem(res, problems.bearer(`Bearer ${params.join(', ')}`, error, description));
}
