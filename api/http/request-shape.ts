import type { Plugin } from "graphql-yoga";
import { BadRequestError } from "../errors";
import { errorResponse } from "./json";
import type { ServerContext } from "./request-state";

// What yoga's result processors can answer (graphql-yoga plugins/use-result-processor.js).
const RESULT_MEDIA_TYPES = ["application/graphql-response+json", "application/json", "multipart/mixed", "text/event-stream"];

function mediaType(value: string): { type: string; charset: string | undefined } {
  const [type = "", ...params] = value.split(";").map((p) => p.trim().toLowerCase());
  const charset = params.find((p) => p.startsWith("charset="))?.slice("charset=".length);
  return { type, charset };
}

const matches = (asked: string, offered: string) => {
  const [aType, aSub] = asked.split("/");
  const [oType, oSub] = offered.split("/");
  return (aType === "*" || aType === oType) && (aSub === "*" || aSub === oSub);
};

/** True when some result format the client accepts exists (yoga speaks UTF-8 only). */
export function acceptsAResult(accept: string | null): boolean {
  if (accept === null || accept.trim() === "") return true;
  return accept.split(",").some((part) => {
    const { type, charset } = mediaType(part);
    return (charset === undefined || charset === "utf-8") && RESULT_MEDIA_TYPES.some((offered) => matches(type, offered));
  });
}

/**
 * Requests the API cannot take as sent are answered before the token is even looked at:
 * - methods other than GET and POST (CORS preflights were answered by yoga's CORS plugin already);
 * - POST bodies other than JSON: a cross-site form or a "simple" fetch cannot send JSON without a
 *   CORS preflight, which is the API's CSRF defence;
 * - an Accept header no result format satisfies: yoga would otherwise run the operation (a
 *   mutation too) and only then answer 406.
 */
export function useRequestShape(options: { cors: boolean }): Plugin<Record<string, unknown>, ServerContext> {
  const allow = options.cors ? "GET, POST, OPTIONS" : "GET, POST";
  return {
    onRequest({ request, endResponse, fetchAPI }) {
      if (request.method !== "GET" && request.method !== "POST") {
        endResponse(errorResponse(fetchAPI, new BadRequestError("Method not allowed.", 405, { allow })));
        return;
      }
      if (request.method === "POST" && mediaType(request.headers.get("content-type") ?? "").type !== "application/json") {
        endResponse(errorResponse(fetchAPI, new BadRequestError("Content-Type must be application/json.", 415)));
        return;
      }
      if (!acceptsAResult(request.headers.get("accept"))) {
        endResponse(errorResponse(fetchAPI, new BadRequestError(`Accept must allow one of ${RESULT_MEDIA_TYPES.join(", ")}.`, 406)));
      }
    },
  };
}
