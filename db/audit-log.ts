/**
 * audit_log (020_api.sql): the one writer of the append-only audit trail. Every configuration change
 * and correction appends a row in the same transaction as the change, so both commit or neither;
 * `before`/`after` show what changed and must never carry secrets.
 */
import type pg from "pg";

/** Who acted: a person or service from a verified token, or a named system process. */
export interface AuditActor {
  subject: string;
  /** A platform operator acting on the tenant (not one of the tenant's own users). */
  platform: boolean;
  ip?: string;
  userAgent?: string;
  requestId?: string;
}

export interface AuditEvent {
  action: string;
  entityType: string;
  entityId: string | null;
  before: unknown;
  after: unknown;
}

/** A system actor for work no person requested (the billing worker, the demo seed). */
export const systemActor = (subject: string): AuditActor => ({ subject, platform: true });

export async function recordAudit(db: Pick<pg.ClientBase, "query">, tenantId: string, actor: AuditActor, event: AuditEvent): Promise<void> {
  await db.query(
    `INSERT INTO audit_log (tenant_id, subject, platform, action, entity_type, entity_id, changes, ip, user_agent, request_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [
      tenantId,
      actor.subject,
      actor.platform,
      event.action,
      event.entityType,
      event.entityId,
      JSON.stringify({ before: event.before ?? null, after: event.after ?? null }),
      actor.ip?.slice(0, 100) ?? null,
      actor.userAgent?.slice(0, 400) ?? null,
      actor.requestId ?? null,
    ],
  );
}
