import { createPublicClient, http, numberToHex, type Address, type Hex, type PublicClient } from "viem";
import type { Logger } from "pino";
import type { RawLog } from "../chain/events";
import { AbortedError } from "./errors";
import { backoffDelay, sleep } from "./retry";

export type { RawLog };


export interface BlockHeader {
  number: bigint;
  hash: Hex;
  parentHash: Hex;
  timestamp: bigint;
}

/**
 * The endpoint refused a log range as too large (result count, response size, or it timed out):
 * the caller should split the range rather than retry it as is.
 */
export class RangeTooLargeError extends Error {
  override name = "RangeTooLargeError";
}

const RANGE_ERROR =
  /too many|limit exceeded|exceeds? (the )?(max|limit)|response (size|is too)|too large|query returned more than|block range|range (is )?too|timed? ?out|10000 results|more than \d+ results|size exceeded|size limit|ResponseBodyTooLarge/i;

function describe(err: unknown): string {
  if (err instanceof Error) {
    const details = (err as { details?: string }).details;
    return `${err.message}${details ? ` ${details}` : ""}`;
  }
  return String(err);
}

export function isRangeError(err: unknown): boolean {
  // A rate limit says "slow down", not "ask for less": never split on it.
  if ((err as { status?: number }).status === 429 || /\b429\b|rate.?limit/i.test(describe(err))) return false;
  return RANGE_ERROR.test(describe(err));
}

export interface RpcHooks {
  onError?(method: string, kind: "range" | "transient", err: unknown): void;
}

export interface RpcOptions {
  url: string;
  timeoutMs: number;
  logger: Logger;
  hooks?: RpcHooks;
  signal: AbortSignal;
}

/**
 * Thin JSON-RPC layer over viem: every call retries transient failures (errors, 429, timeouts,
 * truncated bodies) with backoff and jitter until it succeeds or the indexer stops. viem's own
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

  private async retrying<T>(method: string, fn: () => Promise<T>, opts: { rangeErrors?: boolean } = {}): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (this.options.signal.aborted) throw new AbortedError();
      try {
        return await fn();
      } catch (err) {
        if (this.options.signal.aborted) throw new AbortedError();
        if (opts.rangeErrors && isRangeError(err)) {
          this.options.hooks?.onError?.(method, "range", err);
          throw new RangeTooLargeError(describe(err).split("\n")[0]);
        }
        this.options.hooks?.onError?.(method, "transient", err);
        const delay = backoffDelay(attempt);
        this.options.logger.warn(
          { method, attempt, delayMs: Math.round(delay), err: describe(err).split("\n")[0] },
          "rpc call failed, retrying",
        );
        await sleep(delay, this.options.signal);
      }
    }
  }

  chainId(): Promise<number> {
    return this.retrying("eth_chainId", () => this.client.getChainId());
  }

  blockNumber(): Promise<bigint> {
    return this.retrying("eth_blockNumber", () => this.client.getBlockNumber({ cacheTime: 0 }));
  }

  /** The block at `number`, or null when the chain is shorter. */
  getBlock(number: bigint): Promise<BlockHeader | null> {
    return this.retrying("eth_getBlockByNumber", async () => {
      const b = await this.client.request({ method: "eth_getBlockByNumber", params: [numberToHex(number), false] });
      if (!b) return null;
      if (!b.hash || b.number === null) throw new Error(`block ${number} came back without a hash`);
      return { number: BigInt(b.number), hash: b.hash, parentHash: b.parentHash, timestamp: BigInt(b.timestamp) };
    });
  }

  /** Logs of `address` in [from, to]; throws RangeTooLargeError when the endpoint refuses the range. */
  getLogs(address: Address, from: bigint, to: bigint): Promise<RawLog[]> {
    return this.retrying(
      "eth_getLogs",
      async () => {
        const logs = (await this.logsClient.request({
          method: "eth_getLogs",
          params: [{ address, fromBlock: numberToHex(from), toBlock: numberToHex(to) }],
        })) as unknown as RawLog[];
        if (!Array.isArray(logs)) throw new Error("eth_getLogs returned a non-array");
        return logs;
      },
      { rangeErrors: from < to },
    );
  }

  getCode(address: Address): Promise<Hex | undefined> {
    return this.retrying("eth_getCode", () => this.client.getCode({ address }));
  }

  /** eth_call of a no-argument view returning one word (used for the reveal delays). */
  readUint(address: Address, selector: Hex): Promise<bigint | null> {
    return this.retrying("eth_call", async () => {
      const r = await this.client.request({ method: "eth_call", params: [{ to: address, data: selector }, "latest"] });
      return r === "0x" ? null : BigInt(r);
    });
  }
}
