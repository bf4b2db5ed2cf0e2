import { GraphQLError, type ExecutionResult } from "graphql";
import { isAsyncIterable, maskError as yogaMaskError, useErrorHandler, type Plugin } from "graphql-yoga";
import type { Logger } from "pino";
import { ApiError, toGraphQLError } from "../errors";
import type { ServerContext } from "./request-state";

/**
 * yoga's error masking, taught the API's errors: an ApiError (thrown by a resolver, a scalar or a
 * pipeline stage) keeps its message and gets its code; everything else unexpected becomes
 * "Unexpected error." (details only in development).
 */
export function maskError(error: unknown, message: string, isDev?: boolean): Error {
  if (error instanceof GraphQLError) {
    // graphql-js wraps a scalar's error twice when coercing a variable (the outer error names the
    // variable and the path in it): the ApiError is at the end of the chain.
    let original: unknown = error.originalError;
    while (original instanceof GraphQLError && original.originalError) original = original.originalError;
    if (original instanceof ApiError) return toGraphQLError(original, error);
  } else if (error instanceof ApiError) {
    return toGraphQLError(error);
  }
  return yogaMaskError(error, message, isDev);
}

const isUnexpected = (e: GraphQLError) => e.extensions?.code === "INTERNAL_SERVER_ERROR" || e.extensions?.unexpected === true;

/**
 * A result without data means the request itself was wrong (unreadable body, parse or validation
 * error, bad variables): 400 whatever media type the client accepts. GraphQL-over-HTTP lets
 * application/json answer those 200 for legacy clients; this API has always answered 4xx.
 */
export function useRequestErrorStatus(): Plugin<Record<string, unknown>, ServerContext> {
  return {
    onResultProcess({ result, setResult }) {
      if (isAsyncIterable(result) || Array.isArray(result)) return;
      const single = result as ExecutionResult & { extensions?: { http?: { status?: number } } };
      // Field errors (with a path) are execution's, even when no data came of them (a refused
      // subscription); request errors have none.
      if ("data" in single || !single.errors?.length || single.errors.some((e) => isUnexpected(e) || e.path !== undefined)) return;
      if ((single.extensions?.http?.status ?? 0) >= 400) return;
      setResult({ ...single, extensions: { ...single.extensions, http: { ...single.extensions?.http, status: 400 } } });
    },
  };
}

/**
 * Unexpected errors are logged (masked for the client), with the request id and without the
 * query, the variables or anything else the client sent.
 */
export function useUnexpectedErrorLog(logger: Logger): Plugin<Record<string, unknown>, ServerContext> {
  return useErrorHandler(({ errors, context }) => {
    for (const e of errors) {
      const original = e instanceof GraphQLError ? e.originalError : e;
      if (!original || original instanceof ApiError || original instanceof GraphQLError) continue;
      const reqId = (context as Partial<ServerContext>).state?.requestId;
      logger.error({ reqId, err: { name: original.name, message: original.message } }, "unexpected error");
    }
  }) as Plugin<Record<string, unknown>, ServerContext>;
}
