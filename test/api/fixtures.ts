import pino from "pino";
import { startApi, type RunningApi } from "../../api";
import { parseApiConfig, type ApiConfig } from "../../api/config";
import { startLocalIdp, type LocalIdp, type LocalIdpClient } from "../../stack/local-idp";
import { runBillingOnce } from "../../billing/run";
import type { Database } from "../../db/connection";
import { createTestDatabase, openAsRole, type TestDatabase } from "../helpers/database";

export const AUDIENCE = "https://api.meterline.test";
export const ROLES = ["viewer", "operator", "admin", "auditor"] as const;
/** Platform roles as the IdP grants them (the default PLATFORM_ROLE_PREFIX, `platform:`). */
export const PLATFORM_ROLES = ["platform:viewer", "platform:admin", "platform:billing", "platform:auditor"] as const;
export type TestRole = (typeof ROLES)[number] | (typeof PLATFORM_ROLES)[number];
export const TENANTS = ["acme", "globex"] as const;
export type TestTenant = (typeof TENANTS)[number];

export const hash32 = (n: number | bigint, salt = 0) => Buffer.from(BigInt(n).toString(16).padStart(60, "0") + salt.toString(16).padStart(4, "0"), "hex");
export const addr20 = (n: number) => Buffer.from(n.toString(16).padStart(40, "0"), "hex");

export interface ApiHarness {
  /** The owner's pool: seeding and assertions only. */
  db: TestDatabase;
  /** What the API itself connects with: the database role meterline_api and nothing more. */
  apiDb: Database;
  idp: LocalIdp;
  api: RunningApi;
  config: ApiConfig;
  tenantIds: Record<TestTenant, string>;
  token(tenant: TestTenant, role: TestRole | "none" | "legacy-platform" | "admin+platform:admin"): Promise<string>;
  gql(
    token: string | undefined,
    query: string,
    variables?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: GqlBody; headers: Headers }>;
  close(): Promise<void>;
}

export interface GqlBody {
  data?: Record<string, unknown> | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

// Client ids stay plain (":" has to be escaped in HTTP Basic credentials); the role keeps its name.
const clientIdOf = (tenant: string, role: string) => `${tenant}-${role.replace(/[:+]/g, "-")}`;

function clients(): LocalIdpClient[] {
  const list: LocalIdpClient[] = [];
  for (const tenant of TENANTS) {
    for (const role of ROLES) list.push({ clientId: `${tenant}-${role}`, clientSecret: `secret-${tenant}-${role}`, tenant, roles: [role] });
    list.push({ clientId: `${tenant}-none`, clientSecret: `secret-${tenant}-none`, tenant, roles: [] });
  }
  // Platform operators: one client per platform role, each homed in a tenant (the tenant claim is
  // required of every token) and acting on whichever tenant its request names.
  for (const tenant of TENANTS) {
    for (const role of PLATFORM_ROLES) list.push({ clientId: clientIdOf(tenant, role), clientSecret: `secret-${clientIdOf(tenant, role)}`, tenant, roles: [role] });
    // The single all-powerful role of earlier versions: it grants nothing now.
    list.push({ clientId: `${tenant}-legacy-platform`, clientSecret: `secret-${tenant}-legacy-platform`, tenant, roles: ["meterline_platform"] });
    // A person who is both a tenant admin and a platform admin: never both at once.
    list.push({ clientId: clientIdOf(tenant, "admin+platform:admin"), clientSecret: `secret-${clientIdOf(tenant, "admin+platform:admin")}`, tenant, roles: ["admin", "platform:admin"] });
  }
  return list;
}

/**
 * Two tenants with identical shapes (same meter ids, same counts), so any cross-tenant leak shows
 * up as a wrong count or a foreign row rather than hiding behind different data.
 */
export async function seed(db: TestDatabase): Promise<Record<TestTenant, string>> {
  const q = (sql: string, params: unknown[] = []) => db.pool.query(sql, params);
  await q("INSERT INTO chains (chain_id, name) VALUES (31337, 'hardhat')");
  const { rows: c } = await q("INSERT INTO contracts (chain_id, address, deploy_block) VALUES (31337, $1, 1) RETURNING id", [addr20(0xc0ffee)]);
  const contractId = c[0].id as number;
  await q("INSERT INTO checkpoints (contract_id, block_number, block_hash, block_time) VALUES ($1, 1000, $2, now())", [contractId, hash32(1000)]);
  const ids = {} as Record<TestTenant, string>;
  for (const [i, slug] of TENANTS.entries()) {
    const t = i + 1;
    const { rows } = await q(
      `INSERT INTO tenants (contract_id, onchain_id, slug, chain_id, tx_hash, log_index, block_number, block_hash)
       VALUES ($1, $2, $3, 31337, $4, 0, 10, $5) RETURNING id::text`,
      [contractId, t, slug, hash32(t, 1), hash32(10)],
    );
    const tenantId = rows[0].id as string;
    ids[slug] = tenantId;
    for (const meter of [1, 2]) {
      await q(
        `INSERT INTO meters (tenant_id, meter_id, name, chain_id, tx_hash, log_index, block_number, block_hash)
         VALUES ($1, $2, $3, 31337, $4, $2, 11, $5)`,
        [tenantId, meter, `${slug}-meter-${meter}`, hash32(t * 10 + meter, 2), hash32(11)],
      );
    }
    await q("INSERT INTO meter_configs (tenant_id, meter_id, aggregation, unit, display_name) VALUES ($1, 1, 'SUM', 'req', 'Requests')", [tenantId]);
    // 30 records over the last 30 hours on meter 1.
    await q(
      `INSERT INTO usage_records (tenant_id, meter_id, period_start, period_end, quantity, sequence, ref, reporter, commitment,
         contract_id, chain_id, tx_hash, log_index, record_index, block_number, block_hash, block_time)
       SELECT $1, 1, date_trunc('hour', now()) - make_interval(hours => g), date_trunc('hour', now()) - make_interval(hours => g) + interval '1 minute',
              10 * g, g, decode(lpad(to_hex(g), 64, '0'), 'hex'), $2, decode(lpad(to_hex($3 * 1000 + g), 64, '0'), 'hex'),
              $4, 31337, decode(lpad(to_hex($3 * 1000 + g), 64, '0'), 'hex'), 0, 0, 100 + g, decode(lpad(to_hex(100 + g), 64, '0'), 'hex'), now()
       FROM generate_series(1, 30) g`,
      [tenantId, addr20(0xaa00 + t), t, contractId],
    );
    await q(
      `INSERT INTO commitments (tenant_id, contract_id, reporter, commitment, relayer, status, chain_id, tx_hash, log_index, block_number, block_hash, block_time)
       SELECT $1, $2, $3, decode(lpad(to_hex($4 * 1000 + g), 64, '0'), 'hex'), $3, 'committed', 31337, decode(lpad(to_hex($4 * 5000 + g), 64, '0'), 'hex'), 0, 50 + g,
              decode(lpad(to_hex(50 + g), 64, '0'), 'hex'), now()
       FROM generate_series(1, 3) g`,
      [tenantId, contractId, addr20(0xaa00 + t), t],
    );
    await q("INSERT INTO quotas (tenant_id, meter_id, soft_limit, hard_limit) VALUES ($1, 1, 100, 100000)", [tenantId]);
    // January 2026 on meter 2: three records, then a later on-chain occurrence of the first one's
    // idempotency key (a duplicate: listed on request, never counted or billed).
    await q(
      `INSERT INTO usage_records (tenant_id, meter_id, period_start, period_end, quantity, sequence, ref, reporter, commitment,
         contract_id, chain_id, tx_hash, log_index, record_index, block_number, block_hash, block_time, is_duplicate)
       SELECT $1, 2, timestamptz '2026-01-10T00:00:00Z' + make_interval(hours => g), timestamptz '2026-01-10T00:01:00Z' + make_interval(hours => g),
              (ARRAY[5, 7, 11, 5])[g], 100 + g, decode(lpad(to_hex(CASE WHEN g = 4 THEN 9001 ELSE 9000 + g END), 64, '0'), 'hex'), $2,
              decode(lpad(to_hex($3 * 1000 + 500 + g), 64, '0'), 'hex'), $4, 31337, decode(lpad(to_hex($3 * 1000 + 500 + g), 64, '0'), 'hex'),
              0, 0, 900 + g, decode(lpad(to_hex(900 + g), 64, '0'), 'hex'), timestamptz '2026-01-10T00:00:00Z' + make_interval(hours => g), g = 4
       FROM generate_series(1, 4) g`,
      [tenantId, addr20(0xaa00 + t), t, contractId],
    );
    // Hourly rollups as the indexer keeps them: duplicates are not usage.
    await q(
      `INSERT INTO usage_rollups (tenant_id, meter_id, bucket_start, quantity_sum, quantity_max, record_count)
       SELECT tenant_id, meter_id, date_trunc('hour', period_start), sum(quantity), max(quantity), count(*) FROM usage_records
       WHERE tenant_id = $1 AND NOT is_duplicate GROUP BY 1, 2, 3`,
      [tenantId],
    );
    // A plan priced per unit, and a subscription for January 2026 only, so the one billing pass
    // below finalizes exactly one invoice per tenant and leaves no draft.
    const { rows: plan } = await q("INSERT INTO rate_plans (tenant_id, name) VALUES ($1, 'standard') RETURNING id", [tenantId]);
    const { rows: version } = await q(
      "INSERT INTO rate_plan_versions (tenant_id, plan_id, version, effective_from, currency) VALUES ($1, $2, 1, '2020-01-01', 'USD') RETURNING id",
      [tenantId, plan[0].id],
    );
    await q(
      `INSERT INTO plan_prices (tenant_id, plan_version_id, meter_id, model, unit_price) VALUES ($1, $2, 1, 'per_unit', 0.01), ($1, $2, 2, 'per_unit', 1)`,
      [tenantId, version[0].id],
    );
    await q("INSERT INTO subscriptions (tenant_id, plan_id, starts_at, ends_at) VALUES ($1, $2, '2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z')", [
      tenantId,
      plan[0].id,
    ]);
  }
  // Invoices come from billing itself, so they are finalized, hashed and exportable like real ones.
  await runBillingOnce(db, new Date(), { confirmations: 0, graceMs: 0 });
  return ids;
}

export async function startHarness(
  env: Record<string, string> = {},
  options: { ttlSeconds?: number; logger?: pino.Logger } = {},
): Promise<ApiHarness> {
  const db = await createTestDatabase();
  const tenantIds = await seed(db);
  const idp = await startLocalIdp({ clients: clients(), audience: AUDIENCE, ...(options.ttlSeconds ? { accessTokenTtlSeconds: options.ttlSeconds } : {}) });
  const config = parseApiConfig({
    NODE_ENV: "test",
    HOST: "127.0.0.1",
    PORT: "0",
    OIDC_ISSUER: idp.issuer,
    OIDC_AUDIENCE: AUDIENCE,
    WEBHOOK_ENCRYPTION_KEY: Buffer.alloc(32, 0x11).toString("base64"),
    RATE_LIMIT_TENANT_PER_S: "100000",
    RATE_LIMIT_TENANT_BURST: "100000",
    RATE_LIMIT_IP_PER_S: "100000",
    RATE_LIMIT_IP_BURST: "100000",
    ...env,
  });
  const logger = options.logger ?? pino({ level: process.env.API_TEST_LOG ?? "silent" });
  // Least privilege from the start: the API gets a pool that is meterline_api from its first
  // statement; the owner's pool (db) only seeds and checks.
  const apiDb = await openAsRole(db, "meterline_api");
  const api = await startApi(config, { db: apiDb, logger });
  const tokens = new Map<string, string>();
  return {
    db,
    apiDb,
    idp,
    api,
    config,
    tenantIds,
    async token(tenant, role) {
      const id = clientIdOf(tenant, role);
      let t = tokens.get(id);
      if (!t) {
        t = await idp.getToken(id, `secret-${id}`);
        tokens.set(id, t);
      }
      return t;
    },
    async gql(token, query, variables = {}, headers = {}) {
      const res = await fetch(`${api.url}/graphql`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/graphql-response+json, application/json",
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...headers,
        },
        body: JSON.stringify({ query, variables }),
      });
      const text = await res.text();
      let body: GqlBody;
      try {
        body = JSON.parse(text) as GqlBody;
      } catch {
        body = { errors: [{ message: text }] };
      }
      return { status: res.status, body, headers: res.headers };
    },
    async close() {
      await api.close();
      await idp.close();
      await db.drop();
    },
  };
}

// Everything a mutation can write, for "nothing was written" checks. A platform operator's request
// is audited before it runs, by design, so those rows are left out.
const WRITABLE = [
  "meter_configs",
  "rate_plans",
  "rate_plan_versions",
  "plan_prices",
  "price_tiers",
  "subscriptions",
  "quotas",
  "tenants",
  "invoices",
  "invoice_lines",
  "credit_notes",
  "credit_note_counters",
  "billing_exclusions",
  "webhook_endpoints",
  "webhook_outbox",
  "(SELECT * FROM audit_log WHERE action <> 'platform.request') AS audit_log",
];

/** A digest per table of every row a mutation could have written (the owner's view, all tenants). */
export async function writableState(db: TestDatabase): Promise<Record<string, string>> {
  const digests = WRITABLE.map((from) => {
    const name = from.split(" ").at(-1)!;
    return `(SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM ${from.endsWith(` AS ${name}`) ? from.replace(/ AS \w+$/, "") : name} t) AS ${name}`;
  });
  const { rows } = await db.pool.query<Record<string, string>>(`SELECT ${digests.join(", ")}`);
  return rows[0]!;
}
