import type { RequestContext } from "../context";
import { BadInputError } from "../errors";
import { countAuditLog, pageAuditLog, type AuditRow } from "../read/audit-log";
import { toGlobalId } from "./ids";
import { afterKey, connection, pageSize } from "./pagination";

const auditNode = (r: AuditRow) => ({
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
  requestId: r.request_id,
});

export const auditLogResolvers = {
  Query: {
    auditLog: (_: unknown, args: { first?: number | null; after?: string | null }, ctx: RequestContext) => {
      const first = pageSize(args.first);
      const after = afterKey(args.after, 1);
      if (after && !/^\d{1,18}$/.test(after[0]!)) throw new BadInputError("invalid cursor");
      return ctx.db.run(ctx.principal, async (c, tenantId) => {
        const rows = await pageAuditLog(c, tenantId, after?.[0] ?? null, first + 1);
        return connection(rows, first, auditNode, (r) => [r.id], () => ctx.db.run(ctx.principal, (c2, t) => countAuditLog(c2, t)));
      });
    },
  },
};
