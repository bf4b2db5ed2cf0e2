import type { Plugin } from "graphql-yoga";
import { RateLimitedError } from "../errors";
import { errorResponse } from "./json";
import type { ApiMetrics } from "./metrics";
import { createRateLimiter, setRateHeaders, type RateLimiter } from "./rate-limit";
import type { ServerContext } from "./request-state";

/**
 * A token bucket per tenant, taken once the token says which tenant (after useAuthentication).
 * Every answer to an authenticated request carries the RateLimit fields.
 */
export function useTenantRateLimit(options: { perSecond: number; burst: number }, metrics: ApiMetrics): Plugin<Record<string, unknown>, ServerContext> {
  const limiter = createRateLimiter(options);
  const taken = new WeakMap<Request, ReturnType<RateLimiter["take"]>>();
  return {
    onRequest({ request, serverContext, endResponse, fetchAPI }) {
      const principal = serverContext.state.principal;
      if (!principal) return;
      const r = limiter.take(principal.tenant);
      taken.set(request, r);
      if (!r.allowed) {
        metrics.rateLimited.inc({ scope: "tenant" });
        endResponse(errorResponse(fetchAPI, new RateLimitedError(r.resetS)));
      }
    },
    onResponse({ request, response }) {
      const r = taken.get(request);
      if (r) setRateHeaders((name, value) => response.headers.set(name, value), r);
    },
  };
}
