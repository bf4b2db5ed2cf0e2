/** Token buckets keyed by tenant or client IP, refilled lazily on each take. */
export interface RateLimiter {
  take(key: string): { allowed: boolean; limit: number; remaining: number; resetS: number };
}

// Bounded memory: beyond this many keys the least recently created buckets are dropped (a
// dropped bucket comes back full, which errs towards serving, never towards leaking).
const MAX_KEYS = 100_000;

export function createRateLimiter(options: { perSecond: number; burst: number; now?: () => number }): RateLimiter {
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

/** IETF draft RateLimit fields, which the dashboard reads to pace itself. */
export function setRateHeaders(set: (name: string, value: string) => void, r: ReturnType<RateLimiter["take"]>): void {
  set("RateLimit-Limit", String(r.limit));
  set("RateLimit-Remaining", String(r.remaining));
  set("RateLimit-Reset", String(r.resetS));
}
