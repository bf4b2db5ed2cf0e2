import type { ServerResponse } from "node:http";
import { RateLimitedError } from "../errors";
import { sendError } from "./json";
import type { ApiMetrics } from "./metrics";
import { setRateHeaders, type RateLimiter } from "./rate-limit";
import type { RequestState } from "./request-state";

/**
 * A limit per client address (http/client-ip.ts), before anything else is looked at (the token
 * included), so an anonymous flood costs one bucket lookup. Covers the GraphiQL page and its
 * assets as well.
 */
export function createIpRateLimit(limiter: RateLimiter, metrics: ApiMetrics) {
  /** False when the request was answered 429. */
  return async function admit(state: RequestState, res: ServerResponse): Promise<boolean> {
    const r = await limiter.take(state.ip);
    if (r.allowed) return true;
    metrics.rateLimited.inc({ scope: "ip" });
    setRateHeaders((name, value) => res.setHeader(name, value), r);
    sendError(res, new RateLimitedError(r.resetS));
    return false;
  };
}
