import type { Tx } from "./types";

// Exclusions are recorded by billing (billing/corrections.ts excludeRecords) and never change.

export interface ExclusionRow {
  reporter: Buffer;
  sequence: string;
  reason: string;
  excluded_at: Date;
}

/** By record identity (reporter, then sequence); `limit` rows after `after`. */
export async function pageExclusions(c: Tx, tenantId: string | null, after: { reporter: Buffer; sequence: string } | null, limit: number): Promise<ExclusionRow[]> {
  const { rows } = await c.query<ExclusionRow>(
    `SELECT reporter, sequence::text, reason, excluded_at FROM billing_exclusions
      WHERE tenant_id = $1 AND ($2::bytea IS NULL OR (reporter, sequence) > ($2, $3::numeric))
      ORDER BY reporter, sequence LIMIT $4`,
    [tenantId, after?.reporter ?? null, after?.sequence ?? null, limit],
  );
  return rows;
}

export async function countExclusions(c: Tx, tenantId: string | null): Promise<number> {
  const { rows } = await c.query<{ n: number }>("SELECT count(*)::int AS n FROM billing_exclusions WHERE tenant_id = $1", [tenantId]);
  return rows[0]!.n;
}
