// What a person needs to decide whether to let an MCP client in: who it is (and whether anyone
// vouches for that name), where the sign-in returns, and how long the connection lasts. Shared by
// the confirm page and the device flow's confirm page.
import { isLoopbackHost } from '../http/loopback.js';

/** The properties of oidc-provider's Client these facts read. */
export interface ClientLike {
  clientId: string;
  clientName?: string | undefined;
  redirectUris?: readonly string[] | undefined;
  grantTypes?: readonly string[] | undefined;
}

export interface ClientFacts {
  /** The client's name, else its redirect host, else its id. */
  clientName: string;
  /**
   * For a Client ID Metadata Document client: the host that publishes its document, which vouches
   * for the name. Otherwise the client named itself (Dynamic Client Registration): anyone can
   * register any name, "Claude" included.
   */
  documentHost: string | undefined;
  /** Where the browser returns: an origin, a custom scheme and host, or "your device". */
  redirectTarget: string;
  /** Every redirect URI is on this computer (a local tool). */
  loopbackOnly: boolean;
  /** How long the connection lasts without signing in again, in words ("30 days"). */
  lifetime: string;
}

/**
 * The scopes worth showing a person: `openid` (signing in) and `offline_access` (staying
 * connected, which "Stays connected" says in words) are left out.
 */
export const shownScopes = (scopes: readonly string[]): string[] => scopes.filter((s) => s !== 'openid' && s !== 'offline_access');

/** "30 days", "1 hour", "90 minutes": the largest unit that divides evenly, as people say it. */
export function humanDuration(seconds: number): string {
  const units: [number, string][] = [
    [86_400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
    [1, 'second'],
  ];
  const [size, name] = units.find(([size]) => seconds >= size && seconds % size === 0) ?? [1, 'second'];
  const count = Math.round(seconds / size);
  return `${count} ${name}${count === 1 ? '' : 's'}`;
}

export function clientFacts(
  client: ClientLike & { clientIdMetadataDocument?: boolean },
  redirectUri: URL | undefined,
  lifetimes: { grantTtl: number; accessTokenTtl: number },
): ClientFacts {
  const refreshes = client.grantTypes?.includes('refresh_token') ?? false;
  return {
    clientName: client.clientName ?? redirectUri?.host ?? client.clientId,
    documentHost: client.clientIdMetadataDocument ? new URL(client.clientId).host : undefined,
    redirectTarget: !redirectUri
      ? 'your device'
      : redirectUri.protocol.startsWith('http')
        ? redirectUri.origin
        : `${redirectUri.protocol}//${redirectUri.host}`,
    loopbackOnly: redirectUri !== undefined && (client.redirectUris?.every((uri) => isLoopbackHost(new URL(uri).hostname)) ?? false),
    // A client that refreshes stays connected as long as the grant lives; otherwise one token's life.
    lifetime: humanDuration(refreshes ? lifetimes.grantTtl : lifetimes.accessTokenTtl),
  };
}
