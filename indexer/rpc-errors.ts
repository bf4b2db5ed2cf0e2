/**
 * The RPC boundary: turns what viem's HTTP transport threw into an IndexerError that says whether
 * to retry, to ask for a smaller log range, or to stop. Classification uses viem's error classes,
 * the HTTP status and the JSON-RPC error code; the one exception is documented at
 * refusalFromText.
 */
import {
  BaseError,
  HttpRequestError,
  InvalidRequestRpcError,
  JsonRpcVersionUnsupportedError,
  LimitExceededRpcError,
  MethodNotFoundRpcError,
  MethodNotSupportedRpcError,
  ParseRpcError,
  ResponseBodyTooLargeError,
  RpcRequestError,
  TimeoutError,
} from "viem";
import { IndexerError } from "./errors";

/** The call that failed, as much as classification needs. */
export interface RpcRequest {
  method: string;
  /** Set for eth_getLogs: a range over more than one block can be split when refused. */
  logRange?: { from: bigint; to: bigint };
}

/** Common shape of every classified RPC failure. */
export abstract class RpcCallError extends IndexerError {
  constructor(
    message: string,
    readonly method: string,
    options: { cause?: unknown; status?: number; code?: number } = {},
  ) {
    super(`${method}: ${message}`, { cause: options.cause });
    this.status = options.status;
    this.code = options.code;
  }
  /** HTTP status of the response, when there was one. */
  readonly status: number | undefined;
  /** JSON-RPC error code, when the endpoint answered with one. */
  readonly code: number | undefined;
}

/** The endpoint could not serve the call now (network, HTTP 5xx, a server-side JSON-RPC error). */
export class RpcUnavailableError extends RpcCallError {
  override name = "RpcUnavailableError";
  override readonly retryable = true;
}

/** No response within RPC_TIMEOUT_MS. */
export class RpcTimeoutError extends RpcCallError {
  override name = "RpcTimeoutError";
  override readonly retryable = true;
}

/** The endpoint asks us to slow down (HTTP 429, or a rate-limit JSON-RPC error). Never a reason to split. */
export class RpcRateLimitedError extends RpcCallError {
  override name = "RpcRateLimitedError";
  override readonly retryable = true;
}

/** A response that is not what the method returns (truncated JSON, a block without a hash...). */
export class RpcInvalidResponseError extends RpcCallError {
  override name = "RpcInvalidResponseError";
  override readonly retryable = true;
}

/**
 * The endpoint refused an eth_getLogs range as too large (result count, response size, or the
 * query timed out). Repeating the same range is pointless: the caller splits it.
 */
export class RpcRangeTooLargeError extends RpcCallError {
  override name = "RpcRangeTooLargeError";
  constructor(
    message: string,
    readonly from: bigint,
    readonly to: bigint,
    options: { cause?: unknown; status?: number; code?: number } = {},
  ) {
    super(`blocks ${from}..${to} refused as too large (${message})`, "eth_getLogs", options);
  }
}

/**
 * The endpoint will refuse this call every time: the method does not exist there, the request is
 * malformed, or the URL or credentials are wrong. Stops the indexer with the reason.
 */
export class RpcRequestRejectedError extends RpcCallError {
  override name = "RpcRequestRejectedError";
}

/** JSON-RPC codes that mean "this request can never succeed on this endpoint". */
const REJECTED_CODES = new Set<number>([
  ParseRpcError.code,
  InvalidRequestRpcError.code,
  MethodNotFoundRpcError.code,
  MethodNotSupportedRpcError.code,
  JsonRpcVersionUnsupportedError.code,
]);
/** HTTP statuses that mean a wrong URL or missing credentials (403 is left out: providers use it for throttling). */
const REJECTED_STATUSES = new Set([400, 401, 404, 405]);
/** Rate limits signalled by JSON-RPC code: 429 in a 200 body (Alchemy batches), -32007 (QuickNode). */
const RATE_LIMIT_CODES = new Set([429, -32007]);

/**
 * Providers refuse an oversized eth_getLogs with ordinary JSON-RPC errors whose only distinguishing
 * mark is the text: Infura "query returned more than 10000 results" (-32005, the same code it uses
 * for rate limits), Alchemy "Log response size exceeded…" (-32602), others "block range is too
 * wide", "exceed maximum block range: 5000", "query timeout exceeded". There is no code to read,
 * so this is the one place the indexer reads an RPC error's text; rate-limit wording is checked
 * first so that "too many requests" is never mistaken for "too many results".
 */
const RATE_LIMIT_TEXT = /\b429\b|rate.?limit|too many requests|capacity|quota/i;
const RANGE_TEXT =
  /query returned more than|more than \d+ results|\b10,?000\b|too many (results|logs|blocks)|response size|size (exceeded|limit)|too large|range (is )?too|block range|exceeds? (the )?(max|limit)|limit exceeded|timed? ?out|timeout/i;

function refusalFromText(text: string): "rate" | "range" | null {
  if (RATE_LIMIT_TEXT.test(text)) return "rate";
  if (RANGE_TEXT.test(text)) return "range";
  return null;
}

/** The first line of what the endpoint (or the network) said. */
function summary(err: Error): string {
  const text = err instanceof BaseError ? `${err.shortMessage}${err.details ? ` ${err.details}` : ""}` : err.message;
  return text.split("\n")[0]!;
}

function found<E>(err: BaseError, type: abstract new (...args: never[]) => E): E | null {
  return err.walk((e) => e instanceof type) as E | null;
}

/**
 * The typed form of a failed RPC call. IndexerErrors raised inside the call (e.g. a malformed
 * block) pass through, and so does anything that did not come from viem: a bug in our own code is
 * never a reason to retry.
 */
export function toRpcError(err: unknown, request: RpcRequest): unknown {
  if (err instanceof IndexerError || !(err instanceof BaseError)) return err;
  const { method, logRange } = request;
  // Only a range of two or more blocks can be made smaller. A single block the endpoint refuses
  // is treated like any other server trouble below: a busy node may still answer it later.
  const splittable = logRange !== undefined && logRange.from < logRange.to;
  const tooLarge = (why: string, options: { status?: number; code?: number } = {}) =>
    new RpcRangeTooLargeError(why, logRange!.from, logRange!.to, { cause: err, ...options });
  const detail = summary(err);

  // A wider log range takes longer to answer: on eth_getLogs, a timeout means "ask for less".
  if (found(err, TimeoutError)) {
    return splittable ? tooLarge("timed out") : new RpcTimeoutError(`timed out (${detail})`, method, { cause: err });
  }
  if (found(err, ResponseBodyTooLargeError)) {
    return splittable ? tooLarge("response body over viem's size cap") : new RpcInvalidResponseError(detail, method, { cause: err });
  }

  const rpc = found(err, RpcRequestError);
  const http = found(err, HttpRequestError);
  const status = rpc?.status ?? http?.status;
  const code = rpc?.code;
  // What the provider said: a JSON-RPC error message, or the body of an HTTP error response (not a
  // network or JSON-parse failure, whose text is Node's).
  const providerText = rpc ? rpc.details : http?.status !== undefined ? http.details : "";
  const fields = { cause: err, status, code };

  if (status === 429 || (code !== undefined && RATE_LIMIT_CODES.has(code))) return new RpcRateLimitedError(detail, method, fields);
  if (code !== undefined && REJECTED_CODES.has(code)) return new RpcRequestRejectedError(detail, method, fields);
  const refusal = refusalFromText(providerText);
  if (refusal === "rate") return new RpcRateLimitedError(detail, method, fields);
  if (refusal === "range" && logRange) return splittable ? tooLarge(providerText, fields) : new RpcUnavailableError(detail, method, fields);
  // EIP-1474's "limit exceeded" that is not about the log range is a request quota.
  if (code === LimitExceededRpcError.code) return new RpcRateLimitedError(detail, method, fields);
  if (status !== undefined && REJECTED_STATUSES.has(status)) return new RpcRequestRejectedError(detail, method, fields);
  // A body that does not parse as JSON (a proxy cut it short) rather than a failed connection.
  if (http && status === undefined && http.walk((e) => e instanceof SyntaxError)) {
    return new RpcInvalidResponseError(detail, method, fields);
  }
  // Network failures, HTTP 5xx, and JSON-RPC server errors ("header not found" from a lagging
  // node behind a load balancer...): the endpoint may answer next time.
  return new RpcUnavailableError(detail, method, fields);
}
