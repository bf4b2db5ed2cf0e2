import type { Plugin } from "graphql-yoga";
import type { Logger } from "pino";
import type { ServerContext } from "./request-state";

type OnRequest = NonNullable<Plugin<Record<string, unknown>, ServerContext>["onRequest"]>;

/**
 * An onRequest hook that answers a failure of its own (the database during the platform audit,
 * say) with "Unexpected error." (500), logged with the request id. Left alone, whatwg-node would
 * answer with the error's stack as the body.
 */
export function guarded(logger: Logger, hook: OnRequest): OnRequest {
  return async (payload) => {
    try {
      await hook(payload);
    } catch (err) {
      logger.error({ reqId: payload.serverContext.state?.requestId, err: { name: (err as Error).name, message: (err as Error).message } }, "request stage failed");
      payload.endResponse(
        new payload.fetchAPI.Response(JSON.stringify({ errors: [{ message: "Unexpected error.", extensions: { code: "INTERNAL_SERVER_ERROR" } }] }), {
          status: 500,
          headers: { "content-type": "application/json; charset=utf-8" },
        }),
      );
    }
  };
}
