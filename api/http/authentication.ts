import type { Plugin } from "graphql-yoga";
import type { Logger } from "pino";
import { IdentityDirectoryError } from "../auth/identity-providers";
import type { TokenVerifier } from "../auth/verify-token";
import { toGraphQLError, UnauthenticatedError } from "../errors";
import { errorResponse } from "./json";
import type { ApiMetrics } from "./metrics";
import type { ServerContext } from "./request-state";
import { guarded } from "./unexpected";

/**
 * Every request that reaches GraphQL handling carries a verified bearer token, whatever its method,
 * media types or parameters: it is verified before the body is parsed, and the request ends 401
 * otherwise. The GraphiQL page and CORS preflights never get here (yoga answers them first) and
 * execute nothing. `onParams` is the second lock: no operation is parsed, let alone run, without
 * a principal, should a later change route a request around the first.
 */
export function useAuthentication(deps: { verifier: TokenVerifier; metrics: ApiMetrics; logger: Logger }): Plugin<Record<string, unknown>, ServerContext> {
  return {
    onRequest: guarded(deps.logger, async ({ request, serverContext, endResponse, fetchAPI }) => {
      const { state } = serverContext;
      try {
        state.principal = await deps.verifier.verify(request.headers.get("authorization") ?? undefined, request.headers.get("meterline-tenant") ?? undefined);
      } catch (err) {
        // The verifier's own failure to read the database is the server's: 500 (see guarded).
        if (err instanceof IdentityDirectoryError) throw err;
        const refused = err instanceof UnauthenticatedError ? err : new UnauthenticatedError("malformed", { cause: err });
        if (refused !== err) deps.logger.warn({ reqId: state.requestId, err: (err as Error).message }, "token verification error");
        state.authFailure = refused.reason;
        deps.metrics.authFailures.inc({ reason: refused.reason });
        endResponse(errorResponse(fetchAPI, refused));
      }
    }),
    onParams({ context, setResult }) {
      if (!context.state?.principal) setResult({ errors: [toGraphQLError(new UnauthenticatedError("missing_token"))] });
    },
  };
}
