import type { ServerResponse } from "node:http";
import type pg from "pg";
import type { ApiMetrics } from "./metrics";
import { sendJson } from "./json";
import { readiness } from "./readiness";

export const OPS_ROUTES = ["/healthz", "/readyz", "/metrics"] as const;
export type OpsRoute = (typeof OPS_ROUTES)[number];

export function isOpsRoute(pathname: string): pathname is OpsRoute {
  return (OPS_ROUTES as readonly string[]).includes(pathname);
}

/** Liveness, readiness and Prometheus metrics: no token, no rate limit (probes must get through). */
export async function serveOps(
  route: OpsRoute,
  res: ServerResponse,
  deps: { pool: pg.Pool; metrics: ApiMetrics; maxLagBlocks: number; chainHead: (() => Promise<bigint>) | undefined },
): Promise<void> {
  if (route === "/healthz") return sendJson(res, 200, { status: "ok" });
  if (route === "/readyz") {
    const r = await readiness(deps.pool, deps.maxLagBlocks, deps.chainHead);
    return sendJson(res, r.ready ? 200 : 503, r);
  }
  const body = await deps.metrics.registry.metrics();
  res.writeHead(200, { "content-type": deps.metrics.registry.contentType });
  res.end(body);
}
