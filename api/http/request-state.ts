import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Principal } from "../auth/principal";
import type { AuthFailureReason } from "../errors";
import type { AuditActor } from "../../db/audit-log";

/**
 * What the request pipeline learns about one request, shared by its stages and plugins (yoga
 * passes it along as the server context) and read back by the request log when the response ends.
 */
export interface RequestState {
  readonly requestId: string;
  readonly ip: string;
  readonly userAgent: string;
  route: string;
  principal?: Principal;
  authFailure?: AuthFailureReason;
  operationName?: string;
}

/** yoga's server context: Node's req/res are added by its adapter. */
export interface ServerContext {
  state: RequestState;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * A caller's well-formed X-Request-Id is kept (it ties logs across services); else a new one.
 * `ip` is the client's address as http/client-ip.ts establishes it (trusted proxies only).
 */
export function startRequest(req: IncomingMessage, res: ServerResponse, ip: string): RequestState {
  const header = req.headers["x-request-id"];
  const requestId = typeof header === "string" && REQUEST_ID.test(header) ? header : randomUUID();
  res.setHeader("X-Request-Id", requestId);
  return {
    requestId,
    ip,
    userAgent: String(req.headers["user-agent"] ?? ""),
    route: "other",
  };
}

/** The principal and the request as an audit row records them. */
export function auditActor(state: RequestState, principal: Principal): AuditActor {
  return { subject: principal.subject, platform: principal.platform, ip: state.ip, userAgent: state.userAgent, requestId: state.requestId };
}
