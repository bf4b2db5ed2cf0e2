import { createPublicClient, http, numberToHex, type Address, type Hex, type PublicClient } from "viem";
import type { Logger } from "pino";
import type { RawLog } from "../chain/events";
import { AbortedError, IndexerError } from "./errors";
import { redactSecrets, redactUrl } from "./redact";
import { withRetry } from "./retry";
import { RpcInvalidResponseError, RpcRangeTooLargeError, toRpcError, type RpcRequest } from "./rpc-errors";

export type { RawLog };

export interface BlockHeader {
  number: bigint;
  hash: Hex;
  parentHash: Hex;
  timestamp: bigint;
}

/** How a failed call was handled: split (range), retried (transient) or given up (fatal). */
export type RpcFailureKind = "range" | "transient" | "fatal";

export interface RpcHooks {
  onError?(method: string, kind: RpcFailureKind, err: IndexerError): void;
  /** A call succeeded (after any number of retries). */
  onSuccess?(method: string): void;
}

function failureKind(err: IndexerError): RpcFailureKind {
  if (err instanceof RpcRangeTooLargeError) return "range";
  return err.retryable ? "transient" : "fatal";
}

export interface RpcOptions {
  url: string;
  timeoutMs: number;
  logger: Logger;
  hooks?: RpcHooks;
  signal: AbortSignal;
}

/**
 * Thin JSON-RPC layer over viem: every call retries what rpc-errors.ts classifies as retryable
 * (network errors, 5xx, 429, timeouts, truncated bodies) with backoff and jitter until it succeeds
 * or the indexer stops; a rejected request (method not found, bad URL) stops it. viem's own
 * retries are disabled so there is one retry policy, and getLogs is raw so decoding stays ours.
 */
export class Rpc {
  readonly client: PublicClient;
  private readonly logsClient: PublicClient;

  constructor(private readonly options: RpcOptions) {
    // Header reads are small and many: batch them. Log queries are large and must each stay
    // under the provider's response cap on their own, so they never share a batch.
    this.client = createPublicClient({
      transport: http(options.url, { retryCount: 0, timeout: options.timeoutMs, batch: { batchSize: 100 } }),
    });
    this.logsClient = createPublicClient({ transport: http(options.url, { retryCount: 0, timeout: options.timeoutMs }) });
  }

  /**
   * One call under the retry policy: failures are classified at this boundary (rpc-errors.ts)
   * and retried while `retryable`; a range refusal or a rejected request is thrown to the caller.
   */
  private call<T>(request: RpcRequest, fn: () => Promise<T>): Promise<T> {
    const { signal, logger, hooks, url } = this.options;
    return withRetry(
      async () => {
        if (signal.aborted) throw new AbortedError();
        try {
          const result = await fn();
          hooks?.onSuccess?.(request.method);
          return result;
        } catch (raw) {
          if (signal.aborted) throw new AbortedError();
          const err = toRpcError(raw, request);
          if (err instanceof IndexerError) hooks?.onError?.(request.method, failureKind(err), err);
          throw err;
        }
      },
      {
        signal,
        // Names the variable and shows the endpoint redacted: RPC URLs carry credentials and API keys.
        onRetry: (err, attempt, delayMs) =>
          logger.warn(
            {
              variable: "RPC_URL",
              endpoint: redactUrl(url),
              method: request.method,
              attempt,
              delayMs: Math.round(delayMs),
              error: err.name,
              err: redactSecrets(err.message, [url]),
            },
            "rpc call to RPC_URL failed, retrying",
          ),
      },
    );
  }

  chainId(): Promise<number> {
    return this.call({ method: "eth_chainId" }, () => this.client.getChainId());
  }

  blockNumber(): Promise<bigint> {
    return this.call({ method: "eth_blockNumber" }, () => this.client.getBlockNumber({ cacheTime: 0 }));
  }

  /** The block at `number`, or null when the chain is shorter. */
  getBlock(number: bigint): Promise<BlockHeader | null> {
    return this.call({ method: "eth_getBlockByNumber" }, async () => {
      const b = await this.client.request({ method: "eth_getBlockByNumber", params: [numberToHex(number), false] });
      if (!b) return null;
      if (!b.hash || b.number === null) throw new RpcInvalidResponseError(`block ${number} came back without a hash`, "eth_getBlockByNumber");
      return { number: BigInt(b.number), hash: b.hash, parentHash: b.parentHash, timestamp: BigInt(b.timestamp) };
    });
  }

  /** Logs of `address` in [from, to]; throws RpcRangeTooLargeError when the endpoint refuses the range. */
  getLogs(address: Address, from: bigint, to: bigint): Promise<RawLog[]> {
    return this.call({ method: "eth_getLogs", logRange: { from, to } }, async () => {
      const logs = (await this.logsClient.request({
        method: "eth_getLogs",
        params: [{ address, fromBlock: numberToHex(from), toBlock: numberToHex(to) }],
      })) as unknown as RawLog[];
      if (!Array.isArray(logs)) throw new RpcInvalidResponseError("returned a non-array", "eth_getLogs");
      return logs;
    });
  }

  getCode(address: Address): Promise<Hex | undefined> {
    return this.call({ method: "eth_getCode" }, () => this.client.getCode({ address }));
  }

  /** eth_call of a no-argument view returning one word (used for the reveal delays). */
  readUint(address: Address, selector: Hex): Promise<bigint | null> {
    return this.call({ method: "eth_call" }, async () => {
      const r = await this.client.request({ method: "eth_call", params: [{ to: address, data: selector }, "latest"] });
      return r === "0x" ? null : BigInt(r);
    });
  }
}
