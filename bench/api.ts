/**
 * `npm run bench:api`: the dashboard query usage(meter, last 30 days, DAY) through the API (real
 * OIDC token, RLS transaction, GraphQL) against the same SQL through pg directly, both at
 * concurrency 32, over >= 1,000,000 usage records across several tenants. Last line:
 *   api rps=<int> p99_ms=<decimal> raw_rps=<int> ratio=<decimal>
 */
import pg from "pg";
import pino from "pino";
import { startApi } from "../api";
import { parseApiConfig } from "../api/config";
import { toGlobalId } from "../api/resolvers/ids";
import { USAGE_SQL } from "../api/read/usage";
import { startLocalIdp } from "../stack/local-idp";
import { createTestDatabase } from "../test/helpers/database";
import { loadUsage } from "./fixtures/usage-load";

const TENANTS = Number(process.env.BENCH_TENANTS ?? 8);
const METERS = 4;
const RECORDS = Number(process.env.BENCH_RECORDS ?? 1_024_000);
const CONNECTIONS = 32;
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const POOL_SIZE = 10;
const AUDIENCE = "https://api.meterline.bench";

/** The slice of autocannon used here (the package ships no type declarations). */
interface AutocannonResult {
  requests: { average: number };
  latency: { p99: number };
  non2xx: number;
  errors: number;
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;
// A variable specifier keeps TypeScript from looking for declarations.
const AUTOCANNON = "autocannon";

const log = (msg: string) => process.stderr.write(`${msg}\n`);

async function load(pool: pg.Pool): Promise<string[]> {
  const started = Date.now();
  const tenantIds = await loadUsage(pool, { tenants: TENANTS, meters: METERS, records: RECORDS, spanDays: 60 });
  log(`loaded ${RECORDS} usage records for ${TENANTS} tenants in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return tenantIds;
}

/** The same SQL as the resolver, through pg, CONNECTIONS callers in a loop for DURATION_S. */
async function rawRps(url: string, tenantId: string, from: Date, to: Date): Promise<number> {
  const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE });
  let done = 0;
  const until = Date.now() + DURATION_S * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < until) {
        await pool.query(USAGE_SQL.BUCKETED, [tenantId, 1, from, to, "day"]);
        done++;
      }
    }),
  );
  await pool.end();
  return done / DURATION_S;
}

async function main(): Promise<void> {
  const db = await createTestDatabase({ maxConnections: POOL_SIZE });
  const idp = await startLocalIdp({
    clients: [{ clientId: "bench", clientSecret: "bench-secret", tenant: "tenant-1", roles: ["viewer"] }],
    audience: AUDIENCE,
  });
  try {
    const tenantIds = await load(db.pool);
    const config = parseApiConfig({
      NODE_ENV: "production",
      PORT: "0",
      OIDC_ISSUER: idp.issuer,
      OIDC_AUDIENCE: AUDIENCE,
      RATE_LIMIT_TENANT_PER_S: "1000000",
      RATE_LIMIT_TENANT_BURST: "1000000",
      RATE_LIMIT_IP_PER_S: "1000000",
      RATE_LIMIT_IP_BURST: "1000000",
    });
    const api = await startApi(config, { db, logger: pino({ level: "silent" }) });
    const token = await idp.getToken("bench", "bench-secret");
    const to = new Date();
    const from = new Date(to.getTime() - 30 * 86_400_000);
    const body = JSON.stringify({
      query: "query Dashboard($m: ID!, $f: DateTime!, $t: DateTime!) { usage(meter: $m, from: $f, to: $t, granularity: DAY) { bucketStart quantity records } }",
      variables: { m: toGlobalId("Meter", tenantIds[0]!, 1), f: from.toISOString(), t: to.toISOString() },
      operationName: "Dashboard",
    });
    const check = await fetch(`${api.url}/graphql`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body,
    });
    const sample = (await check.json()) as { data?: { usage: unknown[] } };
    if (check.status !== 200 || !sample.data || sample.data.usage.length < 30) throw new Error(`dashboard query failed: ${JSON.stringify(sample).slice(0, 300)}`);
    log(`dashboard query returns ${sample.data.usage.length} daily points`);

    // autocannon in a worker thread, so the load generator does not share the API's event loop.
    const autocannon = ((await import(AUTOCANNON)) as { default: Autocannon }).default;
    const result = await autocannon({
      url: `${api.url}/graphql`,
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body,
      connections: CONNECTIONS,
      duration: DURATION_S,
      workers: 1,
    });
    if (result.non2xx > 0 || result.errors > 0) throw new Error(`API answered ${result.non2xx} non-2xx and ${result.errors} errors`);
    await api.close();
    const raw = await rawRps(db.url, tenantIds[0]!, from, to);
    const apiRps = result.requests.average;
    const line = `api rps=${Math.round(apiRps)} p99_ms=${result.latency.p99.toFixed(2)} raw_rps=${Math.round(raw)} ratio=${(apiRps / raw).toFixed(2)}`;
    process.stdout.write(`${line}\n`);
  } finally {
    await idp.close();
    await db.drop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:api failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
