import type pg from "pg";

/**
 * A client inside the caller's tenant transaction (tenancy/tenant-transaction.ts): row-level
 * security confines every statement to the tenant, and every statement names the tenant as well.
 */
export type Tx = pg.PoolClient;

/**
 * Where a read-only statement can run: a tenant transaction (`Tx`) or a one-round-trip tenant
 * reader (TenantDb.read), both confined to the tenant by row-level security.
 */
export interface Reader {
  /** `types`: the statement's own column parsers (pg's per-query CustomTypesConfig). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string | { text: string; types?: pg.CustomTypesConfig },
    values?: readonly unknown[],
  ): Promise<pg.QueryResult<R>>;
}

/**
 * A timestamp read as text that is already in the form the DateTime scalar writes
 * (Date#toISOString, `2026-01-01T00:00:00.000Z`): the scalar sends `iso` as it is, instead of pg
 * parsing the text into a Date only for the scalar to format it back, per row.
 */
export class IsoTimestamp {
  constructor(readonly iso: string) {}
}

/** Columns of an on-chain reference, shared by the tables that record where a row came from. */
export interface OnchainRow {
  chain_id: string;
  tx_hash: Buffer;
  log_index: number;
  block_number: string;
  block_hash: Buffer | null;
  commitment?: Buffer | null;
}

/** `WHERE` parts and their parameters, numbered as they are added. */
export class Where {
  readonly parts: string[] = [];
  readonly params: unknown[] = [];
  add(sql: (n: number) => string, value: unknown): this {
    this.params.push(value);
    this.parts.push(sql(this.params.length));
    return this;
  }
  clone(): Where {
    const w = new Where();
    w.parts.push(...this.parts);
    w.params.push(...this.params);
    return w;
  }
  get sql(): string {
    return this.parts.join(" AND ");
  }
}
