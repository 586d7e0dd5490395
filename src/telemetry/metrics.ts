// Our metrics, recorded through the OpenTelemetry metrics API: logins, consents, tokens issued,
// upstream refreshes, denials and proxied /mcp requests. Without a meter every method is a
// no-op. Attribute sets are built once and reused: recording allocates nothing per request.
import type { Attributes, Counter, Histogram, Meter, UpDownCounter } from '@opentelemetry/api';

export type LoginOutcome = 'success' | 'refused_by_idp' | 'denied_by_policy' | 'failed' | 'user_changed' | 'expired';
export type ConsentAction = 'shown' | 'remembered' | 'confirmed' | 'cancelled';
export type RefreshOutcome = 'success' | 'refused' | 'denied_by_policy' | 'failed';
/**
 * Why a request was refused: a bearer challenge (`missing_token`, `invalid_token`,
 * `invalid_request`, `insufficient_scope`), `forbidden_origin`, `rate_limited`,
 * `access_policy`, or the OAuth error of a refused token request (`invalid_grant` …).
 */
export type DenialReason = string;
/** Where: the MCP endpoint, or the authorization server (sign-in pages, token, registration). */
export type DenialEndpoint = 'mcp' | 'oauth';

const METHODS = new Set(['GET', 'POST', 'DELETE', 'OPTIONS', 'HEAD', 'PUT', 'PATCH']);
// Seconds; the SDK's default boundaries are meant for milliseconds.
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** A histogram of durations in seconds, with our buckets. */
const secondsHistogram = (meter: Meter, name: string, description: string): Histogram =>
  meter.createHistogram(name, { description, unit: 's', advice: { explicitBucketBoundaries: DURATION_BUCKETS } });

export const METRIC_NAMES = {
  logins: 'mcp_auth_proxy.logins',
  consents: 'mcp_auth_proxy.consents',
  tokensIssued: 'mcp_auth_proxy.tokens.issued',
  upstreamRefreshes: 'mcp_auth_proxy.upstream.refreshes',
  denials: 'mcp_auth_proxy.denials',
  mcpRequestDuration: 'mcp_auth_proxy.mcp.request.duration',
  stdioProcesses: 'mcp_auth_proxy.stdio.processes',
  stdioStartDuration: 'mcp_auth_proxy.stdio.start.duration',
  stdioExits: 'mcp_auth_proxy.stdio.exits',
  toolCalls: 'mcp_auth_proxy.tool.calls',
  toolDenials: 'mcp_auth_proxy.tool.denials',
  toolDuration: 'mcp_auth_proxy.tool.duration',
} as const;

/** Distinct tool names kept as metric attributes; later ones count as `_other` (bounded series). */
export const MAX_TOOL_NAMES = 200;

/** How a stdio server process ended: stopped by us (idle, session end, shutdown) or on its own. */
export type StdioExit = 'stopped' | 'crashed' | 'start_failed';

export class ProxyMetrics {
  /** False when nothing is exported: callers may skip the work of measuring. */
  readonly enabled: boolean;
  readonly #logins: Counter | undefined;
  readonly #consents: Counter | undefined;
  readonly #tokensIssued: Counter | undefined;
  readonly #upstreamRefreshes: Counter | undefined;
  readonly #denials: Counter | undefined;
  readonly #mcpDuration: Histogram | undefined;
  readonly #stdioProcesses: UpDownCounter | undefined;
  readonly #stdioStart: Histogram | undefined;
  readonly #stdioExits: Counter | undefined;
  readonly #toolCalls: Counter | undefined;
  readonly #toolDenials: Counter | undefined;
  readonly #toolDuration: Histogram | undefined;
  readonly #toolNames = new Set<string>();
  readonly #attributes = new Map<string, Attributes>();
  readonly #requestAttributes = new Map<string, Map<number, Attributes>>();

  constructor(meter?: Meter) {
    this.enabled = meter !== undefined;
    if (!meter) return;
    this.#logins = meter.createCounter(METRIC_NAMES.logins, { description: 'Sign-ins at the upstream identity provider, by outcome' });
    this.#consents = meter.createCounter(METRIC_NAMES.consents, {
      description: 'Confirm-login pages shown, confirmed, cancelled, or skipped because the user already confirmed the client',
    });
    this.#tokensIssued = meter.createCounter(METRIC_NAMES.tokensIssued, { description: 'Token responses issued to MCP clients, by grant type' });
    this.#upstreamRefreshes = meter.createCounter(METRIC_NAMES.upstreamRefreshes, {
      description: 'Refreshes of upstream (identity provider) tokens, by outcome',
    });
    this.#denials = meter.createCounter(METRIC_NAMES.denials, { description: 'Refused requests, by reason' });
    this.#mcpDuration = secondsHistogram(meter, METRIC_NAMES.mcpRequestDuration, 'Proxied /mcp requests: time until the response ended (SSE streams: their whole life), by method and status');
    this.#stdioProcesses = meter.createUpDownCounter(METRIC_NAMES.stdioProcesses, { description: 'stdio MCP server processes alive' });
    this.#stdioStart = secondsHistogram(meter, METRIC_NAMES.stdioStartDuration, 'stdio MCP server processes: time from spawn to the answer to initialize');
    this.#stdioExits = meter.createCounter(METRIC_NAMES.stdioExits, { description: 'stdio MCP server processes ended, by how (stopped, crashed, start_failed)' });
    this.#toolCalls = meter.createCounter(METRIC_NAMES.toolCalls, { description: 'tools/call requests that reached the MCP server, by tool and outcome (result, error, transport_error, cancelled)' });
    this.#toolDenials = meter.createCounter(METRIC_NAMES.toolDenials, { description: 'tools/call requests MCP_AUTH_PROXY_POLICY denied, by tool' });
    this.#toolDuration = secondsHistogram(meter, METRIC_NAMES.toolDuration, 'tools/call requests: time from the request to the MCP server\'s answer, by tool');
  }

  toolCall(tool: string, outcome: string, seconds: number): void {
    if (!this.#toolCalls) return;
    const name = this.#toolName(tool);
    this.#toolCalls.add(1, this.#attributesOf('tool', name, 'outcome', outcome));
    this.#toolDuration?.record(seconds, this.#attributesOf('tool', name));
  }

  toolDenied(tool: string): void {
    this.#toolDenials?.add(1, this.#attributesOf('tool', this.#toolName(tool)));
  }

  #toolName(tool: string): string {
    if (this.#toolNames.has(tool)) return tool;
    if (this.#toolNames.size >= MAX_TOOL_NAMES) return '_other';
    this.#toolNames.add(tool);
    return tool;
  }

  stdioProcessSpawned(): void {
    this.#stdioProcesses?.add(1);
  }

  stdioProcessStarted(seconds: number): void {
    this.#stdioStart?.record(seconds);
  }

  stdioProcessEnded(how: StdioExit): void {
    this.#stdioProcesses?.add(-1);
    this.#stdioExits?.add(1, this.#attributesOf('exit', how));
  }

  login(outcome: LoginOutcome): void {
    this.#logins?.add(1, this.#attributesOf('outcome', outcome));
  }

  consent(action: ConsentAction): void {
    this.#consents?.add(1, this.#attributesOf('action', action));
  }

  tokenIssued(grantType: string): void {
    this.#tokensIssued?.add(1, this.#attributesOf('grant_type', grantType));
  }

  upstreamRefresh(outcome: RefreshOutcome): void {
    this.#upstreamRefreshes?.add(1, this.#attributesOf('outcome', outcome));
  }

  denial(reason: DenialReason, endpoint: DenialEndpoint): void {
    this.#denials?.add(1, this.#attributesOf('reason', reason, 'endpoint', endpoint));
  }

  /** `status` 499: the client went away before the response started. */
  mcpRequest(method: string, status: number, seconds: number): void {
    if (!this.#mcpDuration) return;
    const known = METHODS.has(method) ? method : '_OTHER';
    let byStatus = this.#requestAttributes.get(known);
    if (!byStatus) this.#requestAttributes.set(known, (byStatus = new Map()));
    let attributes = byStatus.get(status);
    if (!attributes) {
      attributes = Object.freeze({ 'http.request.method': known, 'http.response.status_code': status });
      byStatus.set(status, attributes);
    }
    this.#mcpDuration.record(seconds, attributes);
  }

  #attributesOf(...pairs: string[]): Attributes {
    const key = pairs.join('\0');
    let attributes = this.#attributes.get(key);
    if (!attributes) {
      const entries: [string, string][] = [];
      for (let i = 0; i < pairs.length; i += 2) entries.push([pairs[i]!, pairs[i + 1]!]);
      attributes = Object.freeze(Object.fromEntries(entries));
      this.#attributes.set(key, attributes);
    }
    return attributes;
  }
}
