/** billing_exclusions: records billing must never charge; append-only. */
import { fromHex, toHex } from "../../chain/hex";
import type { Queryable } from "./records";

export interface Exclusion {
  reporter: string;
  sequence: string;
}

/** Records the exclusions that are new; returns those (an already excluded record is not excluded twice). */
export async function insertExclusions(db: Queryable, tenantId: string, records: readonly Exclusion[], reason: string, by: string, at: Date): Promise<Exclusion[]> {
  const { rows } = await db.query<{ reporter: Buffer; sequence: string }>(
    `INSERT INTO billing_exclusions (tenant_id, reporter, sequence, reason, excluded_by, excluded_at)
     SELECT $1, k.reporter, k.sequence, $4, $5, $6 FROM unnest($2::bytea[], $3::numeric[]) AS k(reporter, sequence)
     ON CONFLICT DO NOTHING
     RETURNING reporter, sequence::text AS sequence`,
    [tenantId, records.map((r) => fromHex(r.reporter)), records.map((r) => r.sequence), reason, by, at],
  );
  return rows.map((r) => ({ reporter: toHex(r.reporter), sequence: r.sequence }));
}
