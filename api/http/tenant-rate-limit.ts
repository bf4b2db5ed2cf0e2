import type { Plugin } from "graphql-yoga";
import { RateLimitedError } from "../errors";
import { errorResponse } from "./json";
import type { ApiMetrics } from "./metrics";
import { setRateHeaders, type RateLimiter, type Take } from "./rate-limit";
import type { ServerContext } from "./request-state";

/**
 * A limit per tenant, taken once the token says which tenant (after useAuthentication); shared by
 * every replica when the store is Redis. Every answer to an authenticated request carries the
 * RateLimit fields.
 */
export function useTenantRateLimit(limiter: RateLimiter, metrics: ApiMetrics): Plugin<Record<string, unknown>, ServerContext> {
  const taken = new WeakMap<Request, Take>();
  return {
    async onRequest({ request, serverContext, endResponse, fetchAPI }) {
      const principal = serverContext.state.principal;
      if (!principal) return;
      const r = await limiter.take(principal.tenant);
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
