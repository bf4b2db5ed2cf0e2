import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { BadRequestError, NotFoundError } from "../errors";
import { readBody } from "./body-limit";
import type { Dashboard } from "./dashboard";
import type { GraphiQL } from "./graphiql";
import { GRAPHIQL_ASSETS_PATH } from "./graphiql";
import { createClientIp, type Cidr } from "./client-ip";
import { createIpRateLimit } from "./ip-rate-limit";
import { sendError, sendJson } from "./json";
import type { ApiMetrics } from "./metrics";
import type { RateLimiter } from "./rate-limit";
import { isOpsRoute, serveOps, type OpsDeps } from "./ops-routes";
import { logWhenDone } from "./request-log";
import { startRequest } from "./request-state";
import { setSecurityHeaders } from "./security-headers";
import type { ApiYoga } from "./yoga";

export interface PipelineDeps {
  yoga: ApiYoga;
  graphiql: GraphiQL | undefined;
  metrics: ApiMetrics;
  logger: Logger;
  /** The per-client-address limit (memory or Redis, made by the composition root). */
  ipRateLimiter: RateLimiter;
  trustedProxies: Cidr[];
  bodyLimitBytes: number;
  /** What /healthz and /readyz need (the ops listener shares it). */
  ops: OpsDeps;
  /** The tenant web app at `/` (api/http/dashboard.ts); absent: those paths are 404. */
  dashboard?: Dashboard;
}

/**
 * The Node request listener: the stages every request passes, in order, before yoga serves the
 * one GraphQL endpoint. client address (trusted proxies) and request id → security headers → request log → operational routes →
 * unknown paths (404) → IP rate limit → GraphiQL's files → body limit (413) → yoga.
 */
export function createPipeline(deps: PipelineDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const admit = createIpRateLimit(deps.ipRateLimiter, deps.metrics);
  const clientIp = createClientIp(deps.trustedProxies);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const state = startRequest(req, res, clientIp(req));
    setSecurityHeaders(res);
    // The host never matters: only the path routes. The GraphQL endpoint's own path is its
    // pathname as it is (the common case, spared a URL parse per request).
    const pathname = req.url === "/graphql" ? "/graphql" : new URL(req.url ?? "/", "http://api.invalid").pathname;
    const asset = deps.graphiql !== undefined && pathname.startsWith(GRAPHIQL_ASSETS_PATH);
    const app = deps.dashboard?.route(pathname);
    state.route = pathname === "/graphql" || isOpsRoute(pathname) ? pathname : asset ? GRAPHIQL_ASSETS_PATH : (app ?? "other");
    logWhenDone(req, res, state, deps.logger, deps.metrics);

    if (isOpsRoute(pathname)) return serveOps(pathname, res, deps.ops);
    if (state.route === "other") return sendError(res, new NotFoundError());
    if (!(await admit(state, res))) return;
    if (app !== undefined) return deps.dashboard!.serve(pathname, req, res);
    if (asset) {
      if (req.method !== "GET" && req.method !== "HEAD") return sendError(res, new BadRequestError("Method not allowed.", 405, { allow: "GET, HEAD" }));
      if (!deps.graphiql!.serveAsset(pathname, req, res)) sendError(res, new NotFoundError());
      return;
    }
    const refused = await readBody(req, deps.bodyLimitBytes);
    if (refused) return sendError(res, refused);
    await deps.yoga(req, res, { state });
  }

  return (req, res) => {
    handle(req, res).catch((err: unknown) => {
      deps.logger.error({ err: (err as Error).message }, "request failed");
      if (!res.headersSent) sendJson(res, 500, { errors: [{ message: "Unexpected error." }] });
      else res.destroy();
    });
  };
}
