// Audit log: one structured line per grant created, refreshed and revoked, with a stable shape
// `{audit, grantId, accountId, clientId, kind | reason}` and never a token. Operators search
// their logs for `audit` to answer who was given access, by which client, and when it ended.
import type { Logger } from 'pino';
import type { AuditRecordExporter } from './telemetry.js';

export interface GrantOwner {
  /** The user: the upstream identity provider's `sub`. */
  accountId: string | undefined;
  clientId: string | undefined;
}

/**
 * How a grant was refreshed: `refresh_token` (the MCP client rotated its refresh token) or
 * `upstream` (the proxy refreshed the identity provider's tokens).
 */
export type GrantRefreshKind = 'refresh_token' | 'upstream';

/** Why a grant ended. */
export type GrantRevocationReason =
  /** The client revoked its refresh token (RFC 7009). */
  | 'client_revocation'
  /** A consumed refresh token or authorization code was used again (token theft or a buggy client). */
  | 'replay'
  /** The user signed out at the proxy (end_session). */
  | 'sign_out'
  /** The identity provider refused to refresh the upstream tokens. */
  | 'upstream_refused'
  /** The user no longer passes IDENTITY_ALLOWED_* at an upstream refresh. */
  | 'access_policy'
  /** An operator revoked it (command line). */
  | 'operator';

export type AuditEvent = 'grant.created' | 'grant.refreshed' | 'grant.revoked';

export class AuditLog {
  constructor(
    private readonly logger: Logger,
    /** OTEL_LOGS_EXPORTER=otlp: each line also goes out as a log record. */
    private readonly exporter?: AuditRecordExporter | undefined,
  ) {}

  /** One audit line: the log (stdout) and, when configured, OTLP. */
  write(fields: Record<string, unknown> & { audit: string }, msg: string): void {
    this.logger.info(fields, msg);
    this.exporter?.emit(msg, fields);
  }

  grantCreated(grantId: string, owner: GrantOwner): void {
    this.#write('grant.created', grantId, owner, {}, 'grant created');
  }

  grantRefreshed(grantId: string, owner: GrantOwner, kind: GrantRefreshKind): void {
    this.#write('grant.refreshed', grantId, owner, { kind }, 'grant refreshed');
  }

  grantRevoked(grantId: string, owner: GrantOwner, reason: GrantRevocationReason): void {
    this.#write('grant.revoked', grantId, owner, { reason }, 'grant revoked');
  }

  #write(audit: AuditEvent, grantId: string, owner: GrantOwner, extra: Record<string, string>, msg: string): void {
    this.write({ audit, grantId, accountId: owner.accountId, clientId: owner.clientId, ...extra }, msg);
  }
}
