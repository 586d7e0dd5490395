// Starts what the demo needs besides the proxy and its child: the development identity provider
// (in this process, on IDENTITY_SERVER_URL's port) with the demo account, after checking that the
// sample MCP server can run (its SDK is a development dependency) and that its port is free.
import { createServer } from 'node:net';
import type { Config } from '../config/types.js';
import { DEMO_ACCOUNT } from './defaults.js';
import { startDevIdp, type DevIdp } from './identity-provider.js';

export const DEMO_WARNING = 'This is a demo, not for real use: the account below is public and everything is forgotten on restart.';

const portHint = 'the demo listens on PORT, PORT+1 and PORT+2: set PORT to move all three';

function inUse(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
}

/** Whatever listens on the child's port would be taken for the sample server: it must be free. */
async function assertPortFree(port: number): Promise<void> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (err) => reject(inUse(err) ? new Error(`the demo MCP server's port 127.0.0.1:${port} is in use (${portHint})`) : err));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
  });
}

export async function startDemoIdentityProvider(config: Config, onError: (err: unknown) => void): Promise<DevIdp> {
  // With a stdio server of the operator's (start -- <command>), the sample server does not run.
  if (config.mcp.child && config.mcp.serverUrl) await assertPortFree(Number(config.mcp.serverUrl.port));
  const port = Number(config.identity.serverUrl.port);
  try {
    return await startDevIdp({
      port,
      clients: [
        {
          client_id: config.identity.clientId,
          client_secret: config.identity.clientSecret,
          redirect_uris: [config.identity.callbackUrl],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          token_endpoint_auth_method: 'client_secret_post',
        },
      ],
      accounts: [DEMO_ACCOUNT],
      loginPage: {
        heading: 'Demo identity provider',
        banner: DEMO_WARNING,
        hint: `Demo account: username "${DEMO_ACCOUNT.username}", password "${DEMO_ACCOUNT.password}".`,
        username: DEMO_ACCOUNT.username,
      },
      onError,
    });
  } catch (err) {
    if (inUse(err)) throw new Error(`the demo identity provider's port 127.0.0.1:${port} is in use (${portHint})`);
    throw err;
  }
}
