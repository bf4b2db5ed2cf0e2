import type { ServerResponse } from "node:http";
import { RateLimitedError } from "../errors";
import { sendError } from "./json";
import type { ApiMetrics } from "./metrics";
import { createRateLimiter, setRateHeaders } from "./rate-limit";
import type { RequestState } from "./request-state";

/**
 * A token bucket per client address, before anything else is looked at (the token included), so
 * an anonymous flood costs a map lookup. Covers the GraphiQL page and its assets as well.
 */
export function createIpRateLimit(options: { perSecond: number; burst: number }, metrics: ApiMetrics) {
  const limiter = createRateLimiter(options);
  /** False when the request was answered 429. */
  return function admit(state: RequestState, res: ServerResponse): boolean {
    const r = limiter.take(state.ip);
    if (r.allowed) return true;
    metrics.rateLimited.inc({ scope: "ip" });
    setRateHeaders((name, value) => res.setHeader(name, value), r);
    sendError(res, new RateLimitedError(r.resetS));
    return false;
  };
}
