/**
 * How the follower learns that the chain moved: a push of eth_subscribe("newHeads") over
 * WS_RPC_URL when one is configured, otherwise (and whenever that socket is down) a timer of
 * POLL_INTERVAL_MS. Either way the follower then reads the head over RPC_URL and runs all its
 * checks there: a head from the socket only says "look now", it is never trusted as data, so a
 * socket served by another node (a load balancer) cannot make the indexer skip its reorg checks.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { getWebSocketRpcClient } from "viem/utils";
import { AbortedError } from "./errors";
import { redactSecrets, redactUrl } from "./redact";
import { backoffDelay, type BackoffOptions } from "./retry";

/** Waits for the next moment the follower should read the chain head. */
export interface HeadWatcher {
  /**
   * Resolves on a new head (subscription) or after the polling interval, whichever comes first:
   * true when a head notification (or the subscription coming up or going down) woke it.
   */
  next(): Promise<boolean>;
  /** True while heads arrive by subscription. */
  subscribed(): boolean;
  /** Ends the current wait now (the lease was lost: the follower must look at once). */
  wake(): void;
  close(): void;
}

/** Reconnect delays after the socket fails or closes: quick at first, at most every 30 s. */
export const WS_RECONNECT_BACKOFF: BackoffOptions = { baseMs: 250, maxMs: 30_000 };
/**
 * While subscribed, the follower still reads the head this many polling intervals apart: a cheap
 * safety net for a subscription that stays open but stops delivering.
 */
export const SUBSCRIBED_POLL_FACTOR = 10;
/** How long connecting and subscribing may take before the attempt counts as failed. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * A one-slot wake-up: a notification while nobody waits is kept for the next wait, so a head that
 * arrives while the follower is busy writing is never lost (several collapse into one).
 */
export class Wakeup {
  private pending = false;
  private waiter: (() => void) | null = null;

  notify(): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w();
    } else {
      this.pending = true;
    }
  }

  /**
   * Resolves true on a notification (pending or new), false after `ms`; rejects with AbortedError
   * on abort.
   */
  wait(ms: number, signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.reject(new AbortedError());
    if (this.pending) {
      this.pending = false;
      return Promise.resolve(true);
    }
    return new Promise<boolean>((resolve, reject) => {
      const settle = (woken: boolean) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        if (this.waiter === done) this.waiter = null;
        resolve(woken);
      };
      const done = () => settle(true);
      const onAbort = () => {
        clearTimeout(timer);
        if (this.waiter === done) this.waiter = null;
        reject(new AbortedError());
      };
      const timer = setTimeout(() => settle(false), ms);
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiter = done;
    });
  }
}

/** Polling only: the follower reads eth_blockNumber every `intervalMs`. */
export function pollingHeads(intervalMs: number, signal: AbortSignal): HeadWatcher {
  const wakeup = new Wakeup();
  return {
    next: () => wakeup.wait(intervalMs, signal),
    subscribed: () => false,
    wake: () => wakeup.notify(),
    close: () => undefined,
  };
}

export interface NewHeadsOptions {
  /** ws:// or wss:// (WS_RPC_URL). */
  url: string;
  /** Polling interval while the socket is down. */
  pollIntervalMs: number;
  logger: Logger;
  signal: AbortSignal;
  /** Called on every head notification (metrics). */
  onHead?: () => void;
  /** Called when the subscription comes up (true) or goes down (false). */
  onState?: (subscribed: boolean) => void;
  backoff?: BackoffOptions;
}

type SocketClient = Awaited<ReturnType<typeof getWebSocketRpcClient>>;

/**
 * eth_subscribe("newHeads") over `url`, falling back to polling while the socket is down and
 * reconnecting with backoff. The socket layer is viem's, with its own reconnects turned off so
 * that this module decides when to retry and the follower knows when it is polling.
 */
export function subscribeNewHeads(options: NewHeadsOptions): HeadWatcher {
  const { url, pollIntervalMs, logger, signal } = options;
  const backoff = options.backoff ?? WS_RECONNECT_BACKOFF;
  const endpoint = redactUrl(url);
  const wakeup = new Wakeup();
  let client: SocketClient | null = null;
  let live = false;
  let closed = false;
  let failures = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  // One attempt at a time: a connection's close and error events can both report the same loss.
  let generation = 0;

  // viem caches socket clients by (url, options): a marker of our own keeps this watcher's socket
  // from being shared with (and closed by) another watcher of the same URL in this process.
  const keepAlive = { interval: 15_000, owner: randomUUID() } as { interval: number };
  const clean = (err: unknown) => redactSecrets(err instanceof Error ? err.message : String(err), [url]);

  const setLive = (value: boolean) => {
    if (live === value) return;
    live = value;
    options.onState?.(value);
  };

  const lost = (gen: number, err: unknown) => {
    if (closed || gen !== generation) return;
    generation++;
    const wasLive = live;
    setLive(false);
    const c = client;
    client = null;
    try {
      c?.close();
    } catch {
      // already closed
    }
    const delayMs = Math.round(backoffDelay(failures++, backoff));
    const fields = { variable: "WS_RPC_URL", endpoint, delayMs, err: clean(err) };
    if (wasLive) logger.warn(fields, "newHeads subscription on WS_RPC_URL lost; polling RPC_URL until it reconnects");
    else logger.warn({ ...fields, attempt: failures }, "cannot subscribe to newHeads on WS_RPC_URL; polling RPC_URL, retrying");
    // The follower may be waiting on the subscribed (long) interval: make it poll now.
    wakeup.notify();
    retryTimer = setTimeout(() => void connect(), delayMs);
  };

  const connect = async (): Promise<void> => {
    if (closed) return;
    const gen = ++generation;
    let timeout: NodeJS.Timeout | undefined;
    try {
      const attempt = (async () => {
        const c = await getWebSocketRpcClient(url, { reconnect: false, keepAlive });
        if (closed || gen !== generation) {
          c.close();
          return;
        }
        client = c;
        await new Promise<void>((resolve, reject) => {
          c.request({
            body: { method: "eth_subscribe", params: ["newHeads"] },
            onResponse: (msg: { method?: string; error?: { message?: string }; result?: unknown }) => {
              if (msg.error) return reject(new Error(msg.error.message ?? "eth_subscribe failed"));
              if (msg.method !== "eth_subscription") return resolve();
              if (gen !== generation) return;
              options.onHead?.();
              wakeup.notify();
            },
            onError: (err?: Error | Event) => {
              const e = err instanceof Error ? err : new Error("WebSocket error or close");
              reject(e);
              lost(gen, e);
            },
          });
        });
      })();
      await Promise.race([
        attempt,
        new Promise<never>((_, reject) => {
          timeout = setTimeout(() => reject(new Error(`no answer within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
        }),
      ]);
      if (closed || gen !== generation) return;
      failures = 0;
      setLive(true);
      logger.info({ variable: "WS_RPC_URL", endpoint }, "subscribed to newHeads on WS_RPC_URL");
      // Blocks may have arrived while connecting: look once now.
      wakeup.notify();
    } catch (err) {
      lost(gen, err);
    } finally {
      clearTimeout(timeout);
    }
  };

  const stop = () => {
    if (closed) return;
    closed = true;
    clearTimeout(retryTimer);
    setLive(false);
    try {
      client?.close();
    } catch {
      // already closed
    }
    client = null;
  };
  signal.addEventListener("abort", stop, { once: true });
  void connect();

  return {
    next: () => wakeup.wait(live ? pollIntervalMs * SUBSCRIBED_POLL_FACTOR : pollIntervalMs, signal),
    subscribed: () => live,
    wake: () => wakeup.notify(),
    close: stop,
  };
}
