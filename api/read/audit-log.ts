import type { Tx } from "./types";

// Reads only: the audit trail has one writer, db/audit-log.ts (recordAudit), for the API's
// mutations and platform requests as for billing and its worker.

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
  request_id: string | null;
}

/** Newest first; `limit` entries with ids below `afterId`. */
export async function pageAuditLog(c: Tx, tenantId: string | null, afterId: string | null, limit: number): Promise<AuditRow[]> {
  const { rows } = await c.query<AuditRow>(
    `SELECT id::text, at, subject, platform, action, entity_type, entity_id, changes, ip, user_agent, request_id
     FROM audit_log WHERE tenant_id = $1 AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3`,
    [tenantId, afterId, limit],
  );
  return rows;
}

export async function countAuditLog(c: Tx, tenantId: string | null): Promise<number> {
  const { rows } = await c.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_log WHERE tenant_id = $1", [tenantId]);
  return rows[0]!.n;
}
