import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type pg from "pg";

/**
 * A single-writer lease, kept in service_leases: the indexer holds one per (chain, contract), the
 * billing worker one for the whole database, so a standby takes over only when the active
 * process stopped renewing. Acquire and renew are
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
    /** The error `fence` throws when another owner holds the lease (the caller's own type). */
    private readonly lost: (key: string) => Error = (key) => new Error(`lease ${key} is held by another process`),
  ) {}

  /** Takes the lease if it is free, expired or already ours; true when we hold it. */
  async tryAcquire(): Promise<boolean> {
    const { rows } = await this.pool.query<{ owner: string }>(
      `INSERT INTO service_leases (lease_key, owner, expires_at)
       VALUES ($1, $2, now() + make_interval(secs => $3 / 1000.0))
       ON CONFLICT (lease_key) DO UPDATE
         SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at,
             acquired_at = CASE WHEN service_leases.owner = EXCLUDED.owner THEN service_leases.acquired_at ELSE now() END
         WHERE service_leases.owner = EXCLUDED.owner OR service_leases.expires_at < now()
       RETURNING owner`,
      [this.key, this.owner, this.ttlMs],
    );
    return rows[0]?.owner === this.owner;
  }

  /** Heartbeat outside a batch; false when the lease is no longer ours. */
  async renew(): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `UPDATE service_leases SET expires_at = now() + make_interval(secs => $3 / 1000.0)
       WHERE lease_key = $1 AND owner = $2`,
      [this.key, this.owner, this.ttlMs],
    );
    return rowCount === 1;
  }

  /** Inside a batch transaction: renew or abort with LeaseLostError. */
  async fence(client: pg.PoolClient): Promise<void> {
    const { rowCount } = await client.query(
      `UPDATE service_leases SET expires_at = now() + make_interval(secs => $3 / 1000.0)
       WHERE lease_key = $1 AND owner = $2`,
      [this.key, this.owner, this.ttlMs],
    );
    if (rowCount !== 1) throw this.lost(this.key);
  }

  /** Lets a standby take over at once after a clean shutdown. */
  async release(): Promise<void> {
    await this.pool.query("DELETE FROM service_leases WHERE lease_key = $1 AND owner = $2", [this.key, this.owner]);
  }
}

/** Whether this process holds the lease right now (for /readyz). */
export async function holdsLease(pool: pg.Pool, lease: Lease): Promise<boolean> {
  const { rows } = await pool.query("SELECT 1 FROM service_leases WHERE lease_key = $1 AND owner = $2 AND expires_at > now()", [lease.key, lease.owner]);
  return rows.length > 0;
}
