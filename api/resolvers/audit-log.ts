import type { RequestContext } from "../context";
import { badInput } from "../errors";
import { toGlobalId } from "./ids";
import { afterKey, connection, pageSize } from "./pagination";

interface AuditRow {
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

export const auditLogResolvers = {
  Query: {
    auditLog: (_: unknown, args: { first?: number | null; after?: string | null }, ctx: RequestContext) => {
      const first = pageSize(args.first);
      const after = afterKey(args.after, 1);
      if (after && !/^\d{1,18}$/.test(after[0]!)) throw badInput("invalid cursor");
      return ctx.db.run(ctx.principal, async (c, tenantId) => {
        const { rows } = await c.query<AuditRow>(
          `SELECT id::text, at, subject, platform, action, entity_type, entity_id, changes, ip, user_agent
           FROM audit_log WHERE tenant_id = $1 AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3`,
          [tenantId, after?.[0] ?? null, first + 1],
        );
        return connection(
          rows,
          first,
          (r) => ({
            id: toGlobalId("AuditEntry", r.id),
            at: r.at,
            subject: r.subject,
            platform: r.platform,
            action: r.action,
            entityType: r.entity_type,
            entityId: r.entity_id,
            changes: r.changes === null ? null : JSON.stringify(r.changes),
            ip: r.ip,
            userAgent: r.user_agent,
          }),
          (r) => [r.id],
          () =>
            ctx.db.run(ctx.principal, async (c2, t) => {
              const res = await c2.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_log WHERE tenant_id = $1", [t]);
              return res.rows[0]!.n;
            }),
        );
      });
    },
  },
};
