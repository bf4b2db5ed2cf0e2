import type { ServerResponse } from "node:http";
import { errorBody, type ApiError } from "../errors";

const JSON_TYPE = "application/json; charset=utf-8";

/** A whole JSON answer from a stage in front of yoga, in one write with its length. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": JSON_TYPE, "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, err: ApiError): void {
  sendJson(res, err.status, errorBody(err), err.headers());
}

/** The same answer from a yoga plugin, which ends requests with a fetch Response. */
export function errorResponse(fetchAPI: { Response: typeof Response }, err: ApiError, headers: Record<string, string> = {}): Response {
  return new fetchAPI.Response(JSON.stringify(errorBody(err)), {
    status: err.status,
    headers: { "content-type": JSON_TYPE, ...err.headers(), ...headers },
  });
}
