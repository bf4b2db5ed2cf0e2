import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { ApiMetrics } from "./metrics";
import type { RequestState } from "./request-state";

// Probes are counted but not logged: they would drown the requests that matter.
const QUIET_ROUTES = new Set(["/healthz"]);

/**
 * One log line and one metrics sample per request, when the response has gone out (for SSE, when
 * the stream ends). Never the body, the query text or any header: only what identifies the request.
 */
export function logWhenDone(req: IncomingMessage, res: ServerResponse, state: RequestState, logger: Logger, metrics: ApiMetrics): void {
  const started = performance.now();
  res.once("close", () => {
    const seconds = (performance.now() - started) / 1000;
    metrics.requests.inc({ route: state.route, status: String(res.statusCode) });
    metrics.duration.observe({ route: state.route, operation: metrics.operationLabel(state.operationName) }, seconds);
    if (QUIET_ROUTES.has(state.route)) return;
    logger.info(
      {
        reqId: state.requestId,
        method: req.method,
        route: state.route,
        status: res.statusCode,
        tenant: state.principal?.tenant,
        sub: state.principal?.subject,
        operation: state.operationName,
        authFailure: state.authFailure,
        ms: Math.round(seconds * 1000 * 10) / 10,
      },
      "request",
    );
  });
}
