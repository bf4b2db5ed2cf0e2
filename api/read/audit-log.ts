import type { Tx } from "./types";

/** Who did it, from where: the verified subject and the request that carried it. */
export interface AuditActor {
  subject: string;
  platform: boolean;
  ip: string;
  userAgent: string;
  requestId: string;
}

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
export async function recordAudit(c: Tx, tenantId: string, actor: AuditActor, event: AuditEvent): Promise<void> {
  await c.query(INSERT, [
    tenantId,
    actor.subject,
    actor.platform,
    event.action,
    event.entityType,
    event.entityId ?? null,
    event.changes === undefined ? null : JSON.stringify(event.changes),
    actor.ip.slice(0, 100),
    actor.userAgent.slice(0, 400),
    actor.requestId,
  ]);
}

export interface AuditRow {
  id: string;
  at: Date;
  subject: string;
  platform: boolean;
  action: string;
  entity_type: string;
  entity_id: string | null;
  changes: unknown;
  ip: string | null;
  user_agent: string | null;
}

/** Newest first; `limit` entries with ids below `afterId`. */
export async function pageAuditLog(c: Tx, tenantId: string | null, afterId: string | null, limit: number): Promise<AuditRow[]> {
  const { rows } = await c.query<AuditRow>(
    `SELECT id::text, at, subject, platform, action, entity_type, entity_id, changes, ip, user_agent
     FROM audit_log WHERE tenant_id = $1 AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3`,
    [tenantId, afterId, limit],
  );
  return rows;
}

export async function countAuditLog(c: Tx, tenantId: string | null): Promise<number> {
  const { rows } = await c.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_log WHERE tenant_id = $1", [tenantId]);
  return rows[0]!.n;
}
