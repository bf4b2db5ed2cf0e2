import { CHANNELS, type ChannelName, type NoticeOf } from "../../db/channels";
import type { RequestContext } from "../context";

const MAX_QUEUED = 1000;

/**
 * Notifications of one channel for the caller's tenant, ending when the access token expires
 * (yoga then closes the SSE stream) or when the client goes away.
 */
async function* tenantEvents<C extends ChannelName, T>(
  ctx: RequestContext,
  channel: C,
  map: (notice: NoticeOf[C]) => T,
): AsyncGenerator<T> {
  // Resolve the tenant once, at start, inside a tenant transaction like any query.
  const tenantId = await ctx.db.run(ctx.principal, async (_c, id) => id);
  if (tenantId === null) return;
  const queue: T[] = [];
  let wake: (() => void) | undefined;
  let expired = false;
  const unsubscribe = ctx.notifications.subscribe(channel, (notice) => {
    if (notice.tenantId !== tenantId) return;
    const event = map(notice);
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

export const subscriptionResolvers = {
  Subscription: {
    usageRecorded: {
      subscribe: (_: unknown, __: unknown, ctx: RequestContext) =>
        tenantEvents(ctx, CHANNELS.usage, (n) => ({ records: n.records, toBlock: n.toBlock })),
      resolve: (event: unknown) => event,
    },
    quotaAlert: {
      subscribe: (_: unknown, __: unknown, ctx: RequestContext) =>
        tenantEvents(ctx, CHANNELS.quotaAlert, (n) => ({
          meterId: n.meterId,
          threshold: n.threshold,
          limit: n.limit,
          usage: n.usage,
          periodStart: new Date(n.periodStart),
          periodEnd: new Date(n.periodEnd),
          crossedAt: new Date(n.crossedAt),
        })),
      resolve: (event: unknown) => event,
    },
  },
};
