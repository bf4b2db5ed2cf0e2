/**
 * `npm run bench:api`: the dashboard query usage(meter, last 30 days, DAY) through the API (real
 * OIDC token, GraphQL, the one-round-trip tenant read) against the exact SQL the API runs, sent
 * the same way (the same statement with the tenant settings in one round trip, TenantDb.read),
 * both at concurrency 32, over >= 1,000,000 usage records across several tenants
 * (BENCH_RECORDS=10000000 for the 10M figure). The HTTP load comes from bench/api-load.ts and the
 * OpenID provider is bench/api-idp.ts, each a separate OS process. Last line:
 *   api rps=<int> p99_ms=<decimal> raw_rps=<int> ratio=<decimal>
 */
import { spawn } from "node:child_process";
import path from "node:path";
import pg from "pg";
import pino from "pino";
import { startApi } from "../api";
import { parseApiConfig } from "../api/config";
import { benchApiEnv } from "./fixtures/api-env";
import { usageSeries } from "../api/read/usage";
import { toGlobalId } from "../api/resolvers/ids";
import { createTenantDb } from "../api/tenancy/tenant-transaction";
import { createTestDatabase } from "../test/helpers/database";
import { loadUsage } from "./fixtures/usage-load";

const TENANTS = Number(process.env.BENCH_TENANTS ?? 8);
const METERS = 4;
const RECORDS = Number(process.env.BENCH_RECORDS ?? 1_024_000);
const CONNECTIONS = 32;
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const WARMUP_S = 2;
const POOL_SIZE = 10;
const STATEMENT_TIMEOUT_MS = 5000;
const AUDIENCE = "https://api.meterline.bench";

const log = (msg: string) => process.stderr.write(`${msg}\n`);

async function load(pool: pg.Pool): Promise<string[]> {
  const started = Date.now();
  const tenantIds = await loadUsage(pool, { tenants: TENANTS, meters: METERS, records: RECORDS, spanDays: 60 });
  const { rows } = await pool.query<{ hourly: string; daily: string }>(
    "SELECT (SELECT count(*) FROM usage_rollups)::text AS hourly, (SELECT count(*) FROM usage_daily_rollups)::text AS daily",
  );
  log(`loaded ${RECORDS} usage records for ${TENANTS} tenants (${rows[0]!.hourly} hourly, ${rows[0]!.daily} daily rollups) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return tenantIds;
}

interface LoadResult {
  rps: number;
  p99_ms: number;
  non2xx: number;
  errors: number;
}

/** Runs bench/api-load.ts in its own process; the job (with the token) goes over stdin. */
function runLoadGenerator(job: {
  url: string;
  headers: Record<string, string>;
  body: string;
  connections: number;
  durationS: number;
  expectBody: string;
}): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(__dirname, "api-load.ts")], { stdio: ["pipe", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString("utf8")));
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`load generator exited with ${code}`));
      try {
        resolve(JSON.parse(out.trim().split("\n").pop()!) as LoadResult);
      } catch (err) {
        reject(new Error("load generator printed no result", { cause: err }));
      }
    });
    child.stdin.end(JSON.stringify(job));
  });
}

/** Starts bench/api-idp.ts; it serves discovery and JWKS until `close`. */
function startIdpProcess(job: { client: { clientId: string; clientSecret: string; tenant: string; roles: string[] }; audience: string }): Promise<{
  issuer: string;
  token: string;
  close(): Promise<void>;
}> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(__dirname, "api-idp.ts")], { stdio: ["pipe", "pipe", "inherit"] });
    const exited = new Promise<void>((done) => child.once("exit", () => done()));
    let out = "";
    const onData = (d: Buffer) => {
      out += d.toString("utf8");
      const newline = out.indexOf("\n");
      if (newline < 0) return;
      child.stdout.off("data", onData);
      try {
        const { issuer, token } = JSON.parse(out.slice(0, newline)) as { issuer: string; token: string };
        resolve({
          issuer,
          token,
          close: async () => {
            child.stdin.end();
            await exited;
          },
        });
      } catch (err) {
        child.kill();
        reject(new Error("OpenID provider printed no result", { cause: err }));
      }
    };
    child.stdout.on("data", onData);
    child.on("error", reject);
    child.on("exit", (code) => reject(new Error(`OpenID provider exited with ${code}`)));
    // stdin stays open: its end tells the provider to stop.
    child.stdin.write(`${JSON.stringify(job)}\n`);
  });
}

/**
 * The API's statement sent the API's way (TenantDb.read: settings + statement, one round trip),
 * CONNECTIONS callers in a loop for `seconds`, through a pool the size of the API's.
 */
async function rawRps(url: string, tenantSlug: string, meterId: number, from: Date, to: Date, seconds: number): Promise<number> {
  const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE });
  const tenantDb = createTenantDb(pool, { role: "meterline_api", statementTimeoutMs: STATEMENT_TIMEOUT_MS });
  let done = 0;
  const until = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < until) {
        const rows = await tenantDb.read({ tenant: tenantSlug }, (db, tenantId) => usageSeries(db, tenantId, meterId, { from, to, granularity: "DAY" }));
        if (rows.length < 30) throw new Error(`raw query returned ${rows.length} days`);
        done++;
      }
    }),
  );
  await pool.end();
  return done / seconds;
}

async function main(): Promise<void> {
  const db = await createTestDatabase({ maxConnections: POOL_SIZE });
  const idp = await startIdpProcess({
    client: { clientId: "bench", clientSecret: "bench-secret", tenant: "tenant-1", roles: ["viewer"] },
    audience: AUDIENCE,
  });
  try {
    const tenantIds = await load(db.pool);
    const config = parseApiConfig(benchApiEnv(idp.issuer, AUDIENCE, { STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS) }));
    const api = await startApi(config, { db, logger: pino({ level: "silent" }) });
    const { token } = idp;
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
    const sampleText = await check.text();
    const sample = JSON.parse(sampleText) as { data?: { usage: unknown[] } };
    if (check.status !== 200 || !sample.data || sample.data.usage.length < 30) throw new Error(`dashboard query failed: ${JSON.stringify(sample).slice(0, 300)}`);
    log(`dashboard query returns ${sample.data.usage.length} daily points`);

    const job = {
      url: `${api.url}/graphql`,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body,
      connections: CONNECTIONS,
      expectBody: sampleText,
    };
    await runLoadGenerator({ ...job, durationS: WARMUP_S });
    const result = await runLoadGenerator({ ...job, durationS: DURATION_S });
    if (result.non2xx > 0 || result.errors > 0) throw new Error(`API answered ${result.non2xx} non-2xx and ${result.errors} failed or different answers`);
    await api.close();
    await rawRps(db.url, "tenant-1", 1, from, to, WARMUP_S);
    const raw = await rawRps(db.url, "tenant-1", 1, from, to, DURATION_S);
    const apiRps = result.rps;
    const line = `api rps=${Math.round(apiRps)} p99_ms=${result.p99_ms.toFixed(2)} raw_rps=${Math.round(raw)} ratio=${(apiRps / raw).toFixed(2)}`;
    process.stdout.write(`${line}\n`);
  } finally {
    await idp.close();
    // Dropping the database terminates whatever connection is still open; that is expected here.
    db.pool.on("error", () => undefined);
    await db.drop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:api failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
