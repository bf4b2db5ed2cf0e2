/**
 * The one home of PostgreSQL NOTIFY channels and their payloads. Writers encode with these
 * functions (the indexer after each batch; the quota_alerts trigger of 020_api.sql in SQL, checked
 * against `quotaAlertNotice` by test/db/channels.test.ts) and listeners parse with them, so a
 * payload that changes shape fails in one place.
 */
import { z } from "zod";

export const CHANNELS = {
  /** The indexer committed usage records for a tenant. */
  usage: "meterline_usage",
  /** A quota threshold was crossed (one row in quota_alerts). */
  quotaAlert: "meterline_quota_alert",
} as const;

export type ChannelName = (typeof CHANNELS)[keyof typeof CHANNELS];
export const CHANNEL_NAMES: readonly ChannelName[] = Object.values(CHANNELS);

const decimal = z.string().regex(/^\d+$/);

export const usageNotice = z.object({
  tenantId: decimal,
  /** Records committed for the tenant in the batch; negative when a reorg removed records. */
  records: z.number().int(),
  /** Last block of the batch (after a reorg: the common ancestor). */
  toBlock: decimal,
  reorg: z.boolean().optional(),
});
export type UsageNotice = z.infer<typeof usageNotice>;

export const quotaAlertNotice = z.object({
  tenantId: decimal,
  alertId: decimal,
  meterId: z.number().int().positive(),
  threshold: z.number().int().positive(),
  limit: decimal,
  usage: decimal,
  periodStart: z.string(),
  periodEnd: z.string(),
  crossedAt: z.string(),
});
export type QuotaAlertNotice = z.infer<typeof quotaAlertNotice>;

export interface NoticeOf {
  [CHANNELS.usage]: UsageNotice;
  [CHANNELS.quotaAlert]: QuotaAlertNotice;
}

const SCHEMAS: { [C in ChannelName]: z.ZodType<NoticeOf[C]> } = {
  [CHANNELS.usage]: usageNotice,
  [CHANNELS.quotaAlert]: quotaAlertNotice,
};

export function encodeNotice<C extends ChannelName>(channel: C, notice: NoticeOf[C]): string {
  return JSON.stringify(SCHEMAS[channel].parse(notice));
}

/** The payload of a notification on `channel`, or null when it is not JSON of the channel's shape. */
export function parseNotice<C extends ChannelName>(channel: C, raw: string | undefined): NoticeOf[C] | null {
  if (!raw) return null;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return null;
  }
  const parsed = SCHEMAS[channel].safeParse(json);
  return parsed.success ? parsed.data : null;
}
