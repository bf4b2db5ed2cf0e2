import pino from "pino";
import { startApi, type RunningApi } from "../../api";
import { parseApiConfig, type ApiConfig } from "../../api/config";
import { startLocalIdp, type LocalIdp, type LocalIdpClient } from "../../stack/local-idp";
import { createTestDatabase, type TestDatabase } from "../helpers/database";

export const AUDIENCE = "https://api.meterline.test";
export const ROLES = ["viewer", "operator", "admin", "auditor"] as const;
export type TestRole = (typeof ROLES)[number];
export const TENANTS = ["acme", "globex"] as const;
export type TestTenant = (typeof TENANTS)[number];

export const hash32 = (n: number | bigint, salt = 0) => Buffer.from(BigInt(n).toString(16).padStart(60, "0") + salt.toString(16).padStart(4, "0"), "hex");
export const addr20 = (n: number) => Buffer.from(n.toString(16).padStart(40, "0"), "hex");

export interface ApiHarness {
  db: TestDatabase;
  idp: LocalIdp;
  api: RunningApi;
  config: ApiConfig;
  tenantIds: Record<TestTenant, string>;
  token(tenant: TestTenant, role: TestRole | "none" | "platform"): Promise<string>;
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

function clients(): LocalIdpClient[] {
  const list: LocalIdpClient[] = [];
  for (const tenant of TENANTS) {
    for (const role of ROLES) list.push({ clientId: `${tenant}-${role}`, clientSecret: `secret-${tenant}-${role}`, tenant, roles: [role] });
    list.push({ clientId: `${tenant}-none`, clientSecret: `secret-${tenant}-none`, tenant, roles: [] });
  }
  list.push({ clientId: "acme-platform", clientSecret: "secret-acme-platform", tenant: "acme", roles: ["meterline_platform"] });
  list.push({ clientId: "globex-platform", clientSecret: "secret-globex-platform", tenant: "globex", roles: ["meterline_platform"] });
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
    // 30 records over the last 30 hours on meter 1, with their hourly rollups.
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
      `INSERT INTO usage_rollups (tenant_id, meter_id, bucket_start, quantity_sum, quantity_max, record_count)
       SELECT tenant_id, meter_id, date_trunc('hour', period_start), sum(quantity), max(quantity), count(*) FROM usage_records
       WHERE tenant_id = $1 GROUP BY 1, 2, 3`,
      [tenantId],
    );
    await q(
      `INSERT INTO commitments (tenant_id, contract_id, reporter, commitment, relayer, status, chain_id, tx_hash, log_index, block_number, block_hash, block_time)
       SELECT $1, $2, $3, decode(lpad(to_hex($4 * 1000 + g), 64, '0'), 'hex'), $3, 'committed', 31337, decode(lpad(to_hex($4 * 5000 + g), 64, '0'), 'hex'), 0, 50 + g,
              decode(lpad(to_hex(50 + g), 64, '0'), 'hex'), now()
       FROM generate_series(1, 3) g`,
      [tenantId, contractId, addr20(0xaa00 + t), t],
    );
    await q("INSERT INTO quotas (tenant_id, meter_id, soft_limit, hard_limit) VALUES ($1, 1, 100, 100000)", [tenantId]);
    const { rows: plan } = await q("INSERT INTO rate_plans (tenant_id, name) VALUES ($1, 'standard') RETURNING id", [tenantId]);
    const { rows: version } = await q(
      "INSERT INTO rate_plan_versions (tenant_id, plan_id, version, effective_from, currency) VALUES ($1, $2, 1, '2020-01-01', 'USD') RETURNING id",
      [tenantId, plan[0].id],
    );
    const { rows: inv } = await q(
      `INSERT INTO invoices (tenant_id, period_start, period_end, time_zone, currency, currency_exponent, total_minor, plan_version_id, plan_snapshot)
       VALUES ($1, '2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z', 'UTC', 'USD', 2, 1234, $2, '{}') RETURNING id`,
      [tenantId, version[0].id],
    );
    const { rows: line } = await q(
      `INSERT INTO invoice_lines (tenant_id, invoice_id, line_no, kind, meter_id, description, aggregation, quantity, amount_minor)
       VALUES ($1, $2, 1, 'usage', 1, 'Requests', 'SUM', 10, 1234) RETURNING id`,
      [tenantId, inv[0].id],
    );
    await q(
      `INSERT INTO invoice_line_records (tenant_id, line_id, contract_id, chain_id, reporter, sequence, ref, tx_hash, log_index, record_index,
                                         commitment, block_number, meter_id, period_start, period_end, quantity)
       VALUES ($1, $2, $5, 31337, $6, 1, $7, $3, 0, 0, $4, 101, 1, '2026-01-02T00:00:00Z', '2026-01-02T00:01:00Z', 10)`,
      [tenantId, line[0].id, hash32(t * 1000 + 1), hash32(t * 1000 + 1), contractId, addr20(0xaa00 + t), hash32(1)],
    );
  }
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
  const api = await startApi(config, { db, logger });
  const tokens = new Map<string, string>();
  return {
    db,
    idp,
    api,
    config,
    tenantIds,
    async token(tenant, role) {
      const id = `${tenant}-${role}`;
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
