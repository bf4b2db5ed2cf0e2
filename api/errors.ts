import { GraphQLError } from "graphql";

/**
 * Typed errors of the API and their GraphQL error codes. Anything else thrown by a resolver is
 * unexpected and masked ("Unexpected error.") by yoga in production.
 */
export type ApiErrorCode = "UNAUTHENTICATED" | "FORBIDDEN" | "NOT_FOUND" | "BAD_USER_INPUT" | "RATE_LIMITED" | "CONFLICT";

function apiError(code: ApiErrorCode, message: string, http: number): GraphQLError {
  return new GraphQLError(message, { extensions: { code, http: { status: http } } });
}

export const forbidden = () => apiError("FORBIDDEN", "Not allowed.", 200);
export const notFound = () => apiError("NOT_FOUND", "Not found.", 200);
export const badInput = (message: string) => apiError("BAD_USER_INPUT", message, 200);
export const conflict = (message: string) => apiError("CONFLICT", message, 200);

/** Why a token was refused; goes to logs and metrics only, never to the client. */
export type AuthFailureReason =
  | "missing_token"
  | "malformed"
  | "header_key_injection"
  | "algorithm"
  | "token_type"
  | "signature"
  | "unknown_key"
  | "expired"
  | "not_yet_valid"
  | "issued_in_future"
  | "too_old"
  | "issuer"
  | "audience"
  | "missing_claim"
  | "tenant"
  | "platform_tenant"
  | "idp_unavailable";

export class AuthError extends Error {
  override name = "AuthError";
  constructor(readonly reason: AuthFailureReason) {
    super(reason);
  }
}
