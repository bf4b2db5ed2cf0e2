import type pg from "pg";
import type { RequestContext } from "./context";

export interface AuditEvent {
  action: string;
  entityType: string;
  entityId?: string | null;
  changes?: unknown;
}

const INSERT = `INSERT INTO audit_log (tenant_id, subject, platform, action, entity_type, entity_id, changes, ip, user_agent, request_id)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`;

/**
 * Appends an audit row in the caller's transaction, so a change and its audit row commit or roll
 * back together. `changes` must not contain secrets.
 */
export async function recordAudit(client: pg.PoolClient, tenantId: string, ctx: RequestContext, event: AuditEvent): Promise<void> {
  await client.query(INSERT, [
    tenantId,
    ctx.principal.subject,
    ctx.principal.platform,
    event.action,
    event.entityType,
    event.entityId ?? null,
    event.changes === undefined ? null : JSON.stringify(event.changes),
    ctx.ip.slice(0, 100),
    ctx.userAgent.slice(0, 400),
    ctx.requestId,
  ]);
}
