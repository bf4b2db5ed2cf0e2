import type pg from "pg";
import { CHANNELS, encodeNotice, type UsageNotice } from "../../db/channels";

/**
 * NOTIFY meterline_usage, one notice per tenant, inside the caller's transaction: listeners hear
 * of records only once they are committed, and never of a batch that rolled back.
 */
export async function notifyUsage(client: pg.PoolClient, notices: readonly UsageNotice[]): Promise<void> {
  if (notices.length === 0) return;
  await client.query(`SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p`, [
    CHANNELS.usage,
    notices.map((n) => encodeNotice(CHANNELS.usage, n)),
  ]);
}
