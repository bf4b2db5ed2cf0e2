import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type pg from "pg";
import { LeaseLostError } from "./errors";

/**
 * Single-writer lease for one (chain, contract), kept in indexer_leases. Acquire and renew are
 * single short statements on the pool (no client held across RPC calls, which matters on the
 * one-connection embedded pool). Every batch transaction also calls `fence`, which renews the
 * lease under a row lock and aborts the transaction when another owner holds it, so two writers
 * never both commit even if one stalls past its expiry.
 */
export class Lease {
  readonly owner = `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;

  constructor(
    private readonly pool: pg.Pool,
    readonly key: string,
    private readonly ttlMs: number,
  ) {}

  /** Takes the lease if it is free, expired or already ours; true when we hold it. */
  async tryAcquire(): Promise<boolean> {
    const { rows } = await this.pool.query<{ owner: string }>(
      `INSERT INTO indexer_leases (lease_key, owner, expires_at)
       VALUES ($1, $2, now() + make_interval(secs => $3 / 1000.0))
       ON CONFLICT (lease_key) DO UPDATE
         SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at,
             acquired_at = CASE WHEN indexer_leases.owner = EXCLUDED.owner THEN indexer_leases.acquired_at ELSE now() END
         WHERE indexer_leases.owner = EXCLUDED.owner OR indexer_leases.expires_at < now()
       RETURNING owner`,
      [this.key, this.owner, this.ttlMs],
    );
    return rows[0]?.owner === this.owner;
  }

  /** Heartbeat outside a batch; false when the lease is no longer ours. */
  async renew(): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `UPDATE indexer_leases SET expires_at = now() + make_interval(secs => $3 / 1000.0)
       WHERE lease_key = $1 AND owner = $2`,
      [this.key, this.owner, this.ttlMs],
    );
    return rowCount === 1;
  }

  /** Inside a batch transaction: renew or abort with LeaseLostError. */
  async fence(client: pg.PoolClient): Promise<void> {
    const { rowCount } = await client.query(
      `UPDATE indexer_leases SET expires_at = now() + make_interval(secs => $3 / 1000.0)
       WHERE lease_key = $1 AND owner = $2`,
      [this.key, this.owner, this.ttlMs],
    );
    if (rowCount !== 1) throw new LeaseLostError(`writer lease ${this.key} is held by another indexer`);
  }

  /** Lets a standby take over at once after a clean shutdown. */
  async release(): Promise<void> {
    await this.pool.query("DELETE FROM indexer_leases WHERE lease_key = $1 AND owner = $2", [this.key, this.owner]);
  }
}

export function leaseKey(chainId: number, address: string): string {
  return `${chainId}:${address.toLowerCase()}`;
}
