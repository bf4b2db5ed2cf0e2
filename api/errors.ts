import { GraphQLError } from "graphql";
import { BillingConflictError, BillingInputError, BillingNotFoundError } from "../billing/errors";

/**
 * The API's one error hierarchy. Everything thrown on purpose is an ApiError: its message is
 * written for the client and it maps to one GraphQL error code (and, when it ends a request before
 * any GraphQL runs, to one HTTP status). Anything else thrown while serving is unexpected and
 * reaches the client as "Unexpected error." only (yoga's masking, see http/errors.ts).
 */
export type ApiErrorCode =
  | "UNAUTHENTICATED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "BAD_USER_INPUT"
  | "RATE_LIMITED"
  | "CONFLICT"
  | "BAD_REQUEST";

export abstract class ApiError extends Error {
  abstract readonly code: ApiErrorCode;
  /** The HTTP status when the error answers the whole request. */
  abstract readonly status: number;
  /** Response headers that go with the status (WWW-Authenticate, Retry-After, Allow…). */
  headers(): Record<string, string> {
    return {};
  }
  /** Extensions besides the code that the client may rely on (e.g. the field of a bad input). */
  extensions(): Record<string, string> {
    return {};
  }
}

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
  | "issuer_tenant"
  | "idp_unavailable";

export class UnauthenticatedError extends ApiError {
  override name = "UnauthenticatedError";
  readonly code = "UNAUTHENTICATED";
  readonly status = 401;
  constructor(
    readonly reason: AuthFailureReason,
    options?: ErrorOptions,
  ) {
    // Generic on purpose: the reason is for logs and metrics.
    super("Unauthorized.", options);
  }
  override headers(): Record<string, string> {
    // RFC 6750 §3: no error attribute when the request carried no credentials at all.
    return {
      "www-authenticate": this.reason === "missing_token" ? 'Bearer realm="meterline"' : 'Bearer realm="meterline", error="invalid_token"',
    };
  }
}

export class ForbiddenError extends ApiError {
  override name = "ForbiddenError";
  readonly code = "FORBIDDEN";
  readonly status = 403;
  constructor(options?: ErrorOptions) {
    super("Not allowed.", options);
  }
}

/** Unknown and foreign ids alike: nothing tells them apart. */
export class NotFoundError extends ApiError {
  override name = "NotFoundError";
  readonly code = "NOT_FOUND";
  readonly status = 404;
  constructor(options?: ErrorOptions) {
    super("Not found.", options);
  }
}

/**
 * An argument the API refuses. `field` is its path among the field's arguments
 * (`input.prices.0.tiers.1.upTo`, `timeZone`); the message starts with it.
 */
export class BadInputError extends ApiError {
  override name = "BadInputError";
  readonly code = "BAD_USER_INPUT";
  readonly status = 400;
  readonly field: string | undefined;
  constructor(message: string, options?: ErrorOptions & { field?: string }) {
    super(options?.field === undefined ? message : `${options.field}: ${message}`, options);
    this.field = options?.field;
  }
  override extensions(): Record<string, string> {
    return this.field === undefined ? {} : { field: this.field };
  }
}

/** The request contradicts the current state (a version already in force, an invoice already voided…). */
export class ConflictError extends ApiError {
  override name = "ConflictError";
  readonly code = "CONFLICT";
  readonly status = 409;
}

export class RateLimitedError extends ApiError {
  override name = "RateLimitedError";
  readonly code = "RATE_LIMITED";
  readonly status = 429;
  constructor(readonly retryAfterS: number) {
    super("Too many requests.");
  }
  override headers(): Record<string, string> {
    return { "retry-after": String(this.retryAfterS) };
  }
}

/** A request the API cannot take as sent: wrong method, media type or size. */
export class BadRequestError extends ApiError {
  override name = "BadRequestError";
  readonly code = "BAD_REQUEST";
  constructor(
    message: string,
    readonly status: 405 | 406 | 413 | 415,
    private readonly extraHeaders: Record<string, string> = {},
  ) {
    super(message);
  }
  override headers(): Record<string, string> {
    return this.extraHeaders;
  }
}

/**
 * Billing's errors as the API's: input errors keep the field they name, as a path among the
 * GraphQL arguments (`fieldOf` maps billing's input path to it); not-found and conflict errors keep
 * their message, which billing writes for the caller. Anything else is returned as it came.
 */
export function fromBillingError(err: unknown, fieldOf: (billingField: string) => string): unknown {
  if (err instanceof BillingInputError) {
    return new BadInputError(err.message.slice(err.field.length + 2), { field: fieldOf(err.field), cause: err });
  }
  if (err instanceof BillingNotFoundError) return new NotFoundError({ cause: err });
  if (err instanceof BillingConflictError) return new ConflictError(err.message, { cause: err });
  return err;
}

/** The JSON body of an ApiError that answers the whole request. */
export function errorBody(err: ApiError): { errors: { message: string; extensions: { code: ApiErrorCode } }[] } {
  return { errors: [{ message: err.message, extensions: { code: err.code } }] };
}

/**
 * An ApiError as a GraphQL error inside a result, keeping where it happened (path, locations) from
 * the GraphQLError that wraps a resolver's throw. Resolver errors leave the status at 200 (the
 * result may carry partial data); errors raised before execution carry their HTTP status.
 */
export function toGraphQLError(err: ApiError, wrapper?: GraphQLError): GraphQLError {
  const beforeExecution = wrapper?.path === undefined;
  // graphql-js prefixes what it wraps with where (`Variable "$from" got invalid value …; `).
  return new GraphQLError(wrapper?.message ?? err.message, {
    ...(wrapper ? { nodes: wrapper.nodes, source: wrapper.source, positions: wrapper.positions, path: wrapper.path } : {}),
    extensions: {
      code: err.code,
      ...err.extensions(),
      ...(beforeExecution ? { http: { status: err.status, headers: err.headers() } } : {}),
    },
  });
}
