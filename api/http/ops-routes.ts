import { listenSide, type SideListener } from "./listen";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { TenantDb } from "../tenancy/tenant-transaction";
import type { ApiMetrics } from "./metrics";
import { sendJson } from "./json";
import { readiness } from "./readiness";

/** The probes the public listener answers (load balancers need them there); /metrics is not one. */
export const OPS_ROUTES = ["/healthz", "/readyz"] as const;
export type OpsRoute = (typeof OPS_ROUTES)[number];

export function isOpsRoute(pathname: string): pathname is OpsRoute {
  return (OPS_ROUTES as readonly string[]).includes(pathname);
}

export interface OpsDeps {
  /** Readiness queries as the API's own role, like every request. */
  db: Pick<TenantDb, "runWithoutTenant">;
  metrics: ApiMetrics;
  maxLagBlocks: number;
  chainHead: (() => Promise<bigint>) | undefined;
}

/** Liveness and readiness: no token, no rate limit (probes must get through). */
export async function serveOps(route: OpsRoute, res: ServerResponse, deps: OpsDeps): Promise<void> {
  if (route === "/healthz") return sendJson(res, 200, { status: "ok" });
  const r = await readiness(deps.db, deps.maxLagBlocks, deps.chainHead);
  return sendJson(res, r.ready ? 200 : 503, r);
}

export type OpsListener = SideListener;

/**
 * The operations listener (METRICS_HOST:METRICS_PORT, loopback by default): Prometheus /metrics,
 * plus /healthz and /readyz for probes that use it. Separate from the public port, so metrics
 * (operation and failure counts, pool sizes) are not one more thing the internet can read.
 */
export async function listenOps(options: { host: string; port: number }, deps: OpsDeps): Promise<OpsListener> {
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const { pathname } = new URL(req.url ?? "/", "http://ops.invalid");
    if (req.method !== "GET" && req.method !== "HEAD") return sendJson(res, 405, { error: "method not allowed" }, { allow: "GET, HEAD" });
    if (isOpsRoute(pathname)) return serveOps(pathname, res, deps);
    if (pathname !== "/metrics") return sendJson(res, 404, { error: "not found" });
    const body = await deps.metrics.registry.metrics();
    res.writeHead(200, { "content-type": deps.metrics.registry.contentType, "cache-control": "no-store" });
    res.end(body);
  };
  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) sendJson(res, 500, { error: "unexpected error" });
      else res.destroy();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  return listenSide(server, options.port, options.host);
}
