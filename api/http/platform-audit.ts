import type { Plugin } from "graphql-yoga";
import type { Logger } from "pino";
import { ForbiddenError } from "../errors";
import { recordAudit } from "../../db/audit-log";
import type { TenantDb } from "../tenancy/tenant-transaction";
import { errorResponse } from "./json";
import type { ApiMetrics } from "./metrics";
import { auditActor, type ServerContext } from "./request-state";
import { guarded } from "./unexpected";

/**
 * Every request of a platform operator on a tenant leaves an audit row before anything of it runs;
 * a tenant that does not exist is refused (403), so the operator cannot probe slugs.
 */
export function usePlatformAudit(tenantDb: TenantDb, metrics: ApiMetrics, logger: Logger): Plugin<Record<string, unknown>, ServerContext> {
  return {
    onRequest: guarded(logger, async ({ serverContext, endResponse, fetchAPI }) => {
      const { state } = serverContext;
      const principal = state.principal;
      if (!principal?.platform) return;
      const known = await tenantDb.run(principal, async (c, tenantId) => {
        if (tenantId === null) return false;
        await recordAudit(c, tenantId, auditActor(state, principal), {
          action: "platform.request",
          entityType: "tenant",
          entityId: principal.tenant,
          before: null,
          after: { tokenTenant: principal.tokenTenant },
        });
        return true;
      });
      if (!known) {
        metrics.authFailures.inc({ reason: "platform_tenant" });
        endResponse(errorResponse(fetchAPI, new ForbiddenError()));
      }
    }),
  };
}
