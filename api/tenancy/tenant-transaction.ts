import type pg from "pg";
import type { Reader } from "../read/types";
import { queryAfterSetup } from "./scoped-query";

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
  /**
   * For reads: every statement fn sends through `db` goes out together with the role, tenant and
   * timeout settings in one round trip and runs in its own implicit transaction (no BEGIN, no
   * COMMIT), confined to the tenant by row-level security exactly as in `run`. Statements are not
   * in one snapshot with each other: use `run` where that matters, and for every write.
   */
  read<T>(scope: TenantScope, fn: (db: Reader, tenantId: string | null) => Promise<T>): Promise<T>;
  /**
   * Runs fn in a short transaction as the API role with no tenant set: row-level security hides
   * every tenant's rows, so only platform data (identity providers, checkpoints) and the
   * SECURITY DEFINER lookups are readable. For work before the request's tenant is known.
   */
  runWithoutTenant<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T>;
}

// One statement: SET LOCAL ROLE, the tenant and the per-query timeout, all transaction-local,
// so nothing survives into the next use of the pooled connection.
const SETUP = `SELECT set_config('role', $1, true),
  set_config('meterline.tenant_id', coalesce(meterline_tenant_id($2)::text, ''), true) AS tenant_id,
  set_config('statement_timeout', $3, true)`;

// Slug -> tenant id, so a known tenant's setup goes out with BEGIN in one round trip. Ids are
// identity values, never reused: a stale entry (tenant removed by a reorg) matches no row, which
// fails closed; entries expire anyway.
const TENANT_CACHE_MS = 60_000;

// Sent ahead of each read in the same exchange (scoped-query.ts); all three settings are local to
// the read's implicit transaction.
const READ_SETUP = `SELECT set_config('role', $1, true), set_config('meterline.tenant_id', $2, true), set_config('statement_timeout', $3, true)`;
const ROLE_SETUP = `SELECT set_config('role', $1, true), set_config('statement_timeout', $2, true)`;
const RESOLVE = "SELECT meterline_tenant_id($1)::text AS tenant_id";
const MAX_CACHED_TENANTS = 10_000;

/**
 * One short transaction on a client of its own: `begin` opens it (BEGIN and the settings in one
 * round trip where it can, which db/connection's withTransaction cannot), COMMIT after fn, and
 * ROLLBACK on any failure, the setup's included.
 */
async function transaction<T>(pool: pg.Pool, begin: (client: pg.PoolClient) => Promise<void>, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await begin(client);
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

export function createTenantDb(pool: pg.Pool, options: { role: string; statementTimeoutMs: number }): TenantDb {
  const timeout = String(options.statementTimeoutMs);
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(options.role) || !/^\d+$/.test(timeout)) throw new Error("invalid tenant transaction options");
  const tenants = new Map<string, { id: string; until: number }>();
  // Only the validated role, a timeout and a database-issued numeric id are ever inlined here.
  const cachedTenant = (slug: string): string | undefined => {
    const cached = tenants.get(slug);
    return cached && cached.until > Date.now() && /^\d+$/.test(cached.id) ? cached.id : undefined;
  };
  const remember = (slug: string, id: string) => {
    if (tenants.size >= MAX_CACHED_TENANTS) tenants.delete(tenants.keys().next().value!);
    tenants.set(slug, { id, until: Date.now() + TENANT_CACHE_MS });
  };
  const knownSetup = (tenantId: string) =>
    `BEGIN; SELECT set_config('role', '${options.role}', true), set_config('meterline.tenant_id', '${tenantId}', true), set_config('statement_timeout', '${timeout}', true)`;
  return {
    async run(scope, fn) {
      // The client is held only for this transaction (the embedded database has one connection,
      // shared with the indexer).
      let tenantId: string | null = null;
      return transaction(
        pool,
        async (client) => {
          const cached = cachedTenant(scope.tenant);
          if (cached !== undefined) {
            await client.query(knownSetup(cached));
            tenantId = cached;
            return;
          }
          await client.query("BEGIN");
          const { rows } = await client.query<{ tenant_id: string }>(SETUP, [options.role, scope.tenant, timeout]);
          tenantId = rows[0]?.tenant_id || null;
          if (tenantId !== null) remember(scope.tenant, tenantId);
        },
        (client) => fn(client, tenantId),
      );
    },
    async read(scope, fn) {
      const client = await pool.connect();
      try {
        let tenantId = cachedTenant(scope.tenant) ?? null;
        if (tenantId === null) {
          const { rows } = await queryAfterSetup<{ tenant_id: string | null }>(
            client,
            { text: ROLE_SETUP, values: [options.role, timeout] },
            { text: RESOLVE, values: [scope.tenant] },
          );
          tenantId = rows[0]?.tenant_id ?? null;
          if (tenantId !== null) remember(scope.tenant, tenantId);
        }
        const setup = { text: READ_SETUP, values: [options.role, tenantId ?? "", timeout] };
        const db: Reader = {
          query: <R extends pg.QueryResultRow>(q: string | { text: string; types?: pg.CustomTypesConfig }, values: readonly unknown[] = []) =>
            queryAfterSetup<R>(client, setup, typeof q === "string" ? { text: q, values } : { ...q, values }),
        };
        return await fn(db, tenantId);
      } finally {
        client.release();
      }
    },
    async runWithoutTenant(fn) {
      return transaction(
        pool,
        async (client) => {
          await client.query(`BEGIN; SELECT set_config('role', '${options.role}', true), set_config('statement_timeout', '${timeout}', true)`);
        },
        fn,
      );
    },
  };
}
