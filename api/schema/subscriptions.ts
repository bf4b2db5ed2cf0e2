import type { RequestContext } from "../context";
import type { Channel } from "../notifications";

const MAX_QUEUED = 1000;

/**
 * Notifications of one channel for the caller's tenant, ending when the access token expires
 * (yoga then closes the SSE stream) or when the client goes away.
 */
async function* tenantEvents<T>(
  ctx: RequestContext,
  channel: Channel,
  map: (payload: Record<string, unknown>) => T | null,
): AsyncGenerator<T> {
  // Resolve the tenant once, at start, inside a tenant transaction like any query.
  const tenantId = await ctx.db.run(ctx.principal, async (_c, id) => id);
  if (tenantId === null) return;
  const queue: T[] = [];
  let wake: (() => void) | undefined;
  let expired = false;
  const unsubscribe = ctx.notifications.subscribe(channel, (payload) => {
    if (String(payload.tenantId) !== tenantId) return;
    const event = map(payload);
    if (event === null) return;
    if (queue.length >= MAX_QUEUED) queue.shift();
    queue.push(event);
    wake?.();
  });
  const timer = setTimeout(
    () => {
      expired = true;
      wake?.();
    },
    Math.max(0, ctx.principal.expiresAt - Date.now()),
  );
  try {
    while (!expired) {
      if (queue.length === 0) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        continue;
      }
      yield queue.shift()!;
    }
  } finally {
    clearTimeout(timer);
    unsubscribe();
  }
}

const str = (v: unknown) => (typeof v === "string" || typeof v === "number" ? String(v) : null);

export const subscriptionResolvers = {
  Subscription: {
    usageRecorded: {
      subscribe: (_: unknown, __: unknown, ctx: RequestContext) =>
        tenantEvents(ctx, "meterline_usage", (p) => {
          const records = Number(p.records);
          const toBlock = str(p.toBlock);
          return Number.isSafeInteger(records) && toBlock ? { records, toBlock } : null;
        }),
      resolve: (event: unknown) => event,
    },
    quotaAlert: {
      subscribe: (_: unknown, __: unknown, ctx: RequestContext) =>
        tenantEvents(ctx, "meterline_quota_alert", (p) => ({
          meterId: Number(p.meterId),
          threshold: Number(p.threshold),
          limit: str(p.limit),
          usage: str(p.usage),
          periodStart: new Date(String(p.periodStart)),
          periodEnd: new Date(String(p.periodEnd)),
          crossedAt: new Date(String(p.crossedAt)),
        })),
      resolve: (event: unknown) => event,
    },
  },
};
