// RFC 9728 protected resource metadata for the MCP endpoint, at the path-suffixed URL that
// MCP clients derive from the endpoint and at the root for older clients.
import express, { type Router } from 'express';
import type { Config } from '../config/types.js';
import { resourceScopes } from '../provider/scopes.js';

export function protectedResourceRouter(config: Config): Router {
  const router = express.Router();
  const document = JSON.stringify({
    resource: config.mcp.resource,
    authorization_servers: [config.baseUrl],
    scopes_supported: resourceScopes(config).length ? resourceScopes(config) : config.provider.scopes.filter((s) => s !== 'offline_access'),
    bearer_methods_supported: ['header'],
    resource_name: config.branding.title,
  });
  const paths = ['/.well-known/oauth-protected-resource', `/.well-known/oauth-protected-resource${config.mcp.mountPath}`];
  // Public and without credentials: any origin may read it, with whatever headers it sends
  // (browser clients add MCP-Protocol-Version, which needs a preflight).
  router.get(paths, (_req, res) => {
    res.set('Access-Control-Allow-Origin', '*').set('Cache-Control', 'public, max-age=3600').type('json').send(document);
  });
  router.options(paths, (req, res) => {
    res
      .status(204)
      .set('Access-Control-Allow-Origin', '*')
      .set('Access-Control-Allow-Methods', 'GET, HEAD, OPTIONS')
      .set('Access-Control-Allow-Headers', req.headers['access-control-request-headers'] ?? 'MCP-Protocol-Version')
      .set('Access-Control-Max-Age', '86400')
      .end();
  });
  return router;
}
