import type pg from "pg";

export interface TenantScope {
  /** The tenant slug from the verified token (or the platform operator's explicit choice). */
  tenant: string;
}

export interface TenantDb {
  /**
   * Runs fn in a short transaction as the API role, confined to the tenant by row-level security.
   * Resolves the slug inside the same transaction; `tenantId` is null for an unknown tenant, in
   * which case every policy matches nothing.
   */
  run<T>(scope: TenantScope, fn: (client: pg.PoolClient, tenantId: string | null) => Promise<T>): Promise<T>;
}

// One statement: SET LOCAL ROLE, the tenant and the per-query timeout, all transaction-local,
// so nothing survives into the next use of the pooled connection.
const SETUP = `SELECT set_config('role', $1, true),
  set_config('meterline.tenant_id', coalesce(meterline_tenant_id($2)::text, ''), true) AS tenant_id,
  set_config('statement_timeout', $3, true)`;

export function createTenantDb(pool: pg.Pool, options: { role: string; statementTimeoutMs: number }): TenantDb {
  const timeout = String(options.statementTimeoutMs);
  return {
    async run(scope, fn) {
      // The client is held only for this transaction (the embedded database has one connection,
      // shared with the indexer).
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        const { rows } = await client.query<{ tenant_id: string }>(SETUP, [options.role, scope.tenant, timeout]);
        const tenantId = rows[0]?.tenant_id || null;
        const result = await fn(client, tenantId);
        await client.query("COMMIT");
        return result;
      } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
  };
}
