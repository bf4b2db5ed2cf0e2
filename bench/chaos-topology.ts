/**
 * npm run chaos:topology — the production topology (test/topology/harness.ts) under load, with
 * SIGKILLs and restarts in turn: an API replica, the active indexer, billing in the middle of
 * finalizing, webhook delivery in the middle of a send, then Redis and PostgreSQL restarted.
 * It runs on a PostgreSQL and a Redis of its own (it restarts them), never the shared ones.
 *
 * Checks, at the end: every record the reporters got revealed on chain is in the database once
 * (lost, duplicated); one finalized invoice per tenant and period with gap-free numbers; one alert
 * per threshold crossing; every webhook event delivered, each under one delivery id; and no failed
 * request once each fault has recovered. Last line:
 *   topology kills=N lost=0 duplicated=0 errors_after_recovery=0
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type IncomingMessage, type Server } from "node:http";
import hre from "hardhat";
import { startPrivatePostgres } from "../test/indexer/helpers/private-postgres";
import { freePort, lastMonthStart, startTopology, TENANTS, type Topology } from "../test/topology/harness";

const log = (msg: string) => process.stdout.write(`[chaos ${new Date().toISOString().slice(11, 23)}] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface PrivateRedis {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let proc: ChildProcess | null = null;
  const start = async () => {
    proc = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
    for (let i = 0; i < 100; i++) {
      const ok = await new Promise<boolean>((resolve) => {
        const c = spawn("redis-cli", ["-p", String(port), "ping"], { stdio: ["ignore", "pipe", "ignore"] });
        let out = "";
        c.stdout.on("data", (d: Buffer) => (out += d.toString()));
        c.on("exit", () => resolve(out.includes("PONG")));
      });
      if (ok) return;
      await sleep(50);
    }
    throw new Error("redis-server did not start");
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    start,
    async stop() {
      const p = proc;
      if (!p || p.exitCode !== null) return;
      const exited = new Promise((r) => p.once("exit", r));
      p.kill("SIGKILL");
      await exited;
    },
  };
}

/** A webhook receiver that answers slowly, so delivery can be killed in the middle of a send. */
interface Receiver {
  url: string;
  /** delivery id -> event bodies received under it */
  received: Map<string, string[]>;
  inFlight: number;
  onRequest: (() => void) | null;
  close(): Promise<void>;
}

async function startReceiver(delayMs: number): Promise<Receiver> {
  const r: Receiver = { url: "", received: new Map(), inFlight: 0, onRequest: null, close: async () => undefined };
  const server: Server = createServer((req: IncomingMessage, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      r.inFlight++;
      r.onRequest?.();
      setTimeout(() => {
        r.inFlight--;
        const id = String(req.headers["webhook-id"] ?? "");
        r.received.set(id, [...(r.received.get(id) ?? []), body]);
        res.writeHead(200).end("ok");
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  r.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
  r.close = () => new Promise((resolve) => server.close(() => resolve()));
  return r;
}

/** Steady read load through nginx; each failure is stamped so it can be judged against recovery. */
function startLoad(topo: Topology, tokens: Record<string, string>) {
  const failures: Array<{ at: number; what: string }> = [];
  let requests = 0;
  let running = true;
  const loop = async (tenant: string) => {
    while (running) {
      try {
        const { status, body } = await topo.gql(tokens[tenant]!, "{ usageRecords(first: 1) { totalCount } invoices(first: 5) { totalCount } }");
        if (status !== 200 || body.errors) failures.push({ at: Date.now(), what: `${status} ${JSON.stringify(body.errors ?? "").slice(0, 200)}` });
      } catch (err) {
        failures.push({ at: Date.now(), what: (err as Error).message });
      }
      requests++;
      await sleep(20);
    }
  };
  const loops = [loop("acme"), loop("globex"), loop("acme")];
  return {
    failures,
    requests: () => requests,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const pg = await startPrivatePostgres();
  const redis = await startPrivateRedis();
  const receiver = await startReceiver(1500);
  let topo: Topology | undefined;
  let kills = 0;
  try {
    topo = await startTopology(hre, {
      serverUrl: pg.url,
      redisUrl: redis.url,
      withoutBilling: true,
      // One load generator is one client address: lift the per-IP limit above its steady ~100
      // requests/s, or the (correctly shared, through Redis) limit would answer 429s by design.
      extraApiEnv: { WEBHOOK_ALLOW_LOOPBACK_HTTP: "true", NODE_ENV: "development", RATE_LIMIT_IP_PER_S: "2000", RATE_LIMIT_IP_BURST: "4000" },
      extraWebhookEnv: { WEBHOOK_ALLOW_LOOPBACK_HTTP: "true", WEBHOOK_INTERVAL_MS: "100", WEBHOOK_BASE_BACKOFF_MS: "200" },
    });
    const tp = topo;
    log(`topology up in ${((Date.now() - t0) / 1000).toFixed(1)} s (nginx ${tp.nginx.url})`);
    const tokens = { acme: await tp.token("acme", "viewer"), globex: await tp.token("globex", "viewer") };
    for (const t of TENANTS) {
      const admin = await tp.token(t.slug, "operator");
      const { body } = await tp.gql(admin, "mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret } }", {
        i: { url: receiver.url, eventTypes: ["invoice.finalized", "quota.threshold_crossed"] },
      });
      if (body.errors) throw new Error(`createWebhookEndpoint: ${JSON.stringify(body.errors)}`);
    }

    // What the reporters submit: last month (to be finalized) and this month, in rounds.
    let reported = 0;
    const start = lastMonthStart();
    let round = 0;
    const reportRound = async () => {
      round++;
      for (const t of TENANTS) {
        const rows = Array.from({ length: 4 }, (_, i) => ({ meter: "api_calls", periodStart: start + (round * 10 + i) * 600, periodEnd: start + (round * 10 + i) * 600 + 60, quantity: 10 + i }));
        await tp.report(t, rows);
        reported += rows.length;
      }
    };
    await reportRound();
    const load = startLoad(tp, tokens);
    // [fault injected, recovered]: a failed request inside a window is the fault's; outside, a bug.
    const windows: Array<[number, number]> = [];
    let faultAt = 0;
    const fault = () => {
      faultAt = Date.now();
      kills++;
    };
    const recovered = () => windows.push([faultAt, Date.now() + 2000]);
    const waitUntil = async (what: string, probe: () => Promise<boolean>, timeoutMs = 90_000) => {
      const until = Date.now() + timeoutMs;
      while (!(await probe().catch(() => false))) {
        if (Date.now() > until) throw new Error(`not recovered: ${what}`);
        await sleep(200);
      }
    };
    const apiAnswers = async () => (await tp.gql(tokens.acme, "{ tenant { slug } }")).status === 200;

    // 1. An API replica.
    log("SIGKILL api-1");
    fault();
    await tp.kill("api-1");
    await sleep(2000);
    await tp.start("api-1");
    await waitUntil("api", apiAnswers);
    recovered();

    // 2. The active indexer: the standby takes over.
    const active = /writer lease acquired/.test(tp.services.get("indexer-a")!.output()) ? "indexer-a" : "indexer-b";
    log(`SIGKILL ${active} (active indexer)`);
    fault();
    await tp.kill(active);
    const standby = tp.services.get(active === "indexer-a" ? "indexer-b" : "indexer-a")!;
    await standby.waitFor(/writer lease acquired/, 60_000);
    await tp.start(active as "indexer-a");
    await reportRound();
    recovered();

    // 3. Billing in the middle of finalizing last month.
    log("starting billing, SIGKILL as soon as it holds the lease (mid-finalization)");
    const billing = await tp.start("billing");
    await billing.waitFor(/billing lease/, 30_000);
    await sleep(150);
    fault();
    await tp.kill("billing");
    const { rows: atKill } = await tp.db.pool.query<{ status: string; n: string }>(
      "SELECT status, count(*) AS n FROM invoices WHERE period_start = to_timestamp($1) GROUP BY status ORDER BY status",
      [start],
    );
    log(`billing killed with last month's invoices at: ${atKill.map((r) => `${r.n} ${r.status}`).join(", ") || "none yet"}`);
    await tp.start("billing");
    await waitUntil("invoices finalized", async () => {
      const { rows } = await tp.db.pool.query<{ n: string }>("SELECT count(*) AS n FROM invoices WHERE status = 'finalized' AND period_start = to_timestamp($1)", [start]);
      return Number(rows[0]!.n) >= TENANTS.length;
    });
    recovered();

    // 4. Webhook delivery in the middle of a send.
    log("waiting for a webhook request in flight, then SIGKILL webhooks");
    await new Promise<void>((resolve) => {
      if (receiver.inFlight > 0) return resolve();
      receiver.onRequest = () => resolve();
    });
    receiver.onRequest = null;
    fault();
    await tp.kill("webhooks");
    await tp.start("webhooks");
    recovered();

    // 5. Redis restarted.
    log("restarting Redis");
    fault();
    await redis.stop();
    await sleep(1500);
    await redis.start();
    await waitUntil("api after redis", apiAnswers);
    recovered();

    // 6. PostgreSQL restarted under every service.
    log("restarting PostgreSQL");
    fault();
    pg.stop();
    await sleep(2000);
    pg.start();
    await waitUntil("api after postgres", apiAnswers);
    await reportRound();
    recovered();

    // Recovered: everything reported must arrive, every event must be delivered.
    log("checking the books");
    const dbCount = async () => Number((await tp.db.pool.query<{ n: string }>("SELECT count(*) AS n FROM usage_records")).rows[0]!.n);
    await waitUntil("all records indexed", async () => (await dbCount()) >= reported, 120_000).catch(() => undefined);
    await waitUntil(
      "all webhook events delivered",
      async () => {
        const { rows } = await tp.db.pool.query<{ n: string }>("SELECT count(*) AS n FROM webhook_deliveries WHERE status <> 'delivered'");
        return Number(rows[0]!.n) === 0;
      },
      120_000,
    ).catch(() => undefined);
    await sleep(3000);
    await load.stop();

    const q = async (sql: string) => Number((await tp.db.pool.query<{ n: string }>(sql)).rows[0]!.n);
    const stored = await q("SELECT count(DISTINCT (tenant_id, reporter, sequence)) AS n FROM usage_records");
    const lostRecords = Math.max(0, reported - stored);
    const duplicateRecords = (await dbCount()) - stored;
    const duplicateInvoices = await q("SELECT count(*) AS n FROM (SELECT 1 FROM invoices WHERE status = 'finalized' GROUP BY tenant_id, period_start HAVING count(*) > 1) d");
    const numberGaps = await q(
      "SELECT count(*) AS n FROM (SELECT tenant_id, max(number) - count(*) AS gap FROM invoices WHERE number IS NOT NULL GROUP BY tenant_id) g WHERE gap <> 0",
    );
    const duplicateAlerts = await q("SELECT count(*) AS n FROM (SELECT 1 FROM quota_alerts GROUP BY tenant_id, meter_id, period_start, threshold HAVING count(*) > 1) d");
    const undelivered = await q("SELECT count(*) AS n FROM webhook_deliveries WHERE status <> 'delivered'");
    const deliveries = await q("SELECT count(*) AS n FROM webhook_deliveries");
    // The same event body under two different delivery ids would be a duplicate a receiver cannot
    // recognise; the same id twice is at-least-once delivery, which receivers dedupe by id.
    const bodies = new Map<string, Set<string>>();
    for (const [id, list] of receiver.received) for (const b of list) bodies.set(b, new Set([...(bodies.get(b) ?? []), id]));
    const duplicateDeliveries = [...bodies.values()].filter((ids) => ids.size > 1).length;
    const missingAtReceiver = Math.max(0, deliveries - receiver.received.size);
    const afterRecovery = load.failures.filter((f) => !windows.some(([from, to]) => f.at >= from && f.at <= to));
    const errorsAfterRecovery = afterRecovery.length;
    log(`fault windows (ms from start): ${windows.map(([a, b]) => `${a - t0}..${b - t0}`).join(", ")}`);
    for (const f of afterRecovery.slice(0, 5)) log(`  after recovery, at +${f.at - t0} ms: ${f.what.slice(0, 300)}`);

    log(`reported=${reported} stored=${stored} invoices_finalized=${await q("SELECT count(*) AS n FROM invoices WHERE status = 'finalized'")}`);
    log(`webhook deliveries=${deliveries} undelivered=${undelivered} received_ids=${receiver.received.size}`);
    log(`requests=${load.requests()} failed_total=${load.failures.length} (during faults, before recovery)`);
    for (const f of load.failures.slice(0, 5)) log(`  failure at +${f.at - t0} ms: ${f.what}`);
    log(`took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    const lost = lostRecords + undelivered + missingAtReceiver;
    const duplicated = duplicateRecords + duplicateInvoices + numberGaps + duplicateAlerts + duplicateDeliveries;
    console.log(`topology kills=${kills} lost=${lost} duplicated=${duplicated} errors_after_recovery=${errorsAfterRecovery}`);
    if (lost + duplicated + errorsAfterRecovery > 0) process.exitCode = 1;
  } finally {
    await topo?.close().catch((err: unknown) => log(`close: ${(err as Error).message}`));
    await receiver.close();
    await redis.stop();
    pg.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(`chaos:topology failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
