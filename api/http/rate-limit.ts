import { Redis } from "ioredis";
import type { Logger } from "pino";
import { RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import type { ApiConfig } from "../config";

export interface Take {
  allowed: boolean;
  limit: number;
  remaining: number;
  resetS: number;
}

/** Rate limits keyed by tenant or client IP. */
export interface RateLimiter {
  take(key: string): Promise<Take>;
}

export interface RateLimitOptions {
  perSecond: number;
  burst: number;
}

// Bounded memory: beyond this many keys the least recently created buckets are dropped (a
// dropped bucket comes back full, which errs towards serving, never towards leaking).
const MAX_KEYS = 100_000;

/** A token bucket per key in this process, refilled lazily on each take. */
export function createMemoryRateLimiter(options: RateLimitOptions & { now?: () => number }): { take(key: string): Take } {
  const now = options.now ?? (() => performance.now() / 1000);
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    take(key) {
      const t = now();
      let b = buckets.get(key);
      if (!b) {
        if (buckets.size >= MAX_KEYS) buckets.delete(buckets.keys().next().value!);
        b = { tokens: options.burst, at: t };
        buckets.set(key, b);
      } else {
        b.tokens = Math.min(options.burst, b.tokens + (t - b.at) * options.perSecond);
        b.at = t;
      }
      const allowed = b.tokens >= 1;
      if (allowed) b.tokens -= 1;
      const missing = options.burst - b.tokens;
      return {
        allowed,
        limit: options.burst,
        remaining: Math.floor(b.tokens),
        resetS: Math.ceil((allowed ? missing : 1 - b.tokens) / options.perSecond),
      };
    },
  };
}

/**
 * Where the buckets live: this process (one replica, the embedded stack), or Redis shared by every
 * replica, so N replicas let the configured limit through in total rather than N times it.
 */
export type RateLimitStore = { kind: "memory" } | { kind: "redis"; client: Redis; keyPrefix: string };

/**
 * A limit shared through Redis (rate-limiter-flexible: a window of ceil(burst / perSecond) seconds
 * holding `burst` requests, counted atomically by a Lua script). When Redis fails or is slow the
 * request is judged by this process's own token bucket instead (fail open, to the per-replica
 * limit): an outage of the limiter's store must not take the API down, and the per-replica bucket
 * still bounds a flood. Each failure is counted (`onStoreError`); the caller logs.
 */
export function createRateLimiter(
  options: RateLimitOptions & { scope: string; store: RateLimitStore; onStoreError?: (err: Error) => void },
): RateLimiter {
  const memory = createMemoryRateLimiter(options);
  if (options.store.kind === "memory") return { take: async (key) => memory.take(key) };
  const shared = new RateLimiterRedis({
    storeClient: options.store.client,
    keyPrefix: `${options.store.keyPrefix}${options.scope}`,
    points: options.burst,
    duration: Math.max(1, Math.ceil(options.burst / options.perSecond)),
    // Not connected: straight to the per-process bucket instead of queueing behind a reconnect.
    rejectIfRedisNotReady: true,
  });
  const toTake = (r: RateLimiterRes, allowed: boolean): Take => ({
    allowed,
    limit: options.burst,
    remaining: Math.max(0, r.remainingPoints),
    resetS: Math.max(1, Math.ceil(r.msBeforeNext / 1000)),
  });
  return {
    async take(key) {
      try {
        return toTake(await shared.consume(key), true);
      } catch (err) {
        if (err instanceof RateLimiterRes) return toTake(err, false);
        options.onStoreError?.(err instanceof Error ? err : new Error(String(err)));
        return memory.take(key);
      }
    },
  };
}

/**
 * The Redis connection the rate limits share. Commands fail fast (no offline queue, a short
 * timeout) so a Redis outage costs a request a few milliseconds, not a hang; ioredis reconnects
 * in the background. Never logs the URL (it may carry a password).
 */
export async function connectRateLimitRedis(url: string, logger: Logger, options: { commandTimeoutMs?: number; connectTimeoutMs?: number } = {}): Promise<Redis> {
  const client = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs ?? 250,
    connectTimeout: options.connectTimeoutMs ?? 2000,
    lazyConnect: true,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  let lastLogged = 0;
  client.on("error", (err: Error) => {
    // Once per 30 s while it lasts: a down Redis would otherwise log on every reconnect attempt.
    if (Date.now() - lastLogged < 30_000) return;
    lastLogged = Date.now();
    logger.warn({ err: err.message }, "rate limit store (Redis) unavailable; limiting per replica until it is back");
  });
  try {
    await client.connect();
  } catch (err) {
    // Starting without Redis is allowed: the API serves with per-replica limits and keeps retrying.
    logger.warn({ err: (err as Error).message }, "rate limit store (Redis) unreachable at startup; limiting per replica until it is back");
  }
  return client;
}

export interface ApiRateLimiters {
  tenant: RateLimiter;
  ip: RateLimiter;
  close(): void;
}

/**
 * The API's two limits on the configured store. A store failure is counted per scope
 * (`meterline_api_rate_limit_store_errors_total`) and logged at most every 30 s.
 */
export async function createApiRateLimiters(
  config: ApiConfig["rateLimit"],
  storeErrors: { inc(labels: { scope: string }): void },
  logger: Logger,
): Promise<ApiRateLimiters> {
  const redis = config.store.kind === "redis" ? await connectRateLimitRedis(config.store.url, logger) : undefined;
  const store: RateLimitStore = redis && config.store.kind === "redis" ? { kind: "redis", client: redis, keyPrefix: config.store.keyPrefix } : { kind: "memory" };
  let lastWarning = 0;
  const onStoreError = (scope: string) => (err: Error) => {
    storeErrors.inc({ scope });
    if (Date.now() - lastWarning < 30_000) return;
    lastWarning = Date.now();
    logger.warn({ scope, err: err.message }, "rate limit store (Redis) failed; this replica's own limit applies until it is back");
  };
  return {
    tenant: createRateLimiter({ perSecond: config.tenantPerS, burst: config.tenantBurst, scope: "tenant", store, onStoreError: onStoreError("tenant") }),
    ip: createRateLimiter({ perSecond: config.ipPerS, burst: config.ipBurst, scope: "ip", store, onStoreError: onStoreError("ip") }),
    close: () => redis?.disconnect(),
  };
}

/** IETF draft RateLimit fields, which the dashboard reads to pace itself. */
export function setRateHeaders(set: (name: string, value: string) => void, r: Take): void {
  set("RateLimit-Limit", String(r.limit));
  set("RateLimit-Remaining", String(r.remaining));
  set("RateLimit-Reset", String(r.resetS));
}
