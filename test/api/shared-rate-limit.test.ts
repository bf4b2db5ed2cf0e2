import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { Writable } from "node:stream";
import { Redis } from "ioredis";
import pino from "pino";
import { startApi, type RunningApi } from "../../api";
import type { ApiConfig } from "../../api/config";
import { startHarness, type ApiHarness } from "./fixtures";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A private redis-server on a free port, so the test can take it down without touching the shared one. */
async function startPrivateRedis(port?: number): Promise<{ url: string; stop(): Promise<void> }> {
  port ??= await freePort();
  const proc: ChildProcess = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  const exited = new Promise((resolve) => proc.once("exit", resolve));
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on("error", () => undefined);
  for (let i = 0; ; i++) {
    try {
      await probe.connect();
      await probe.ping();
      break;
    } catch (err) {
      if (i > 50) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  probe.disconnect();
  return {
    url,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await exited;
    },
  };
}

/** Log lines the API writes, for checks on warnings. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: "warn" },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split("\n")) if (line.trim() !== "") lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    }),
  );
  return { logger, lines };
}

describe("api: rate limits shared across replicas (Redis)", function () {
  this.timeout(60_000);

  const prefix = () => `meterline-test:${process.pid}-${randomBytes(4).toString("hex")}:`;
  const limits = { RATE_LIMIT_TENANT_PER_S: "0.01", RATE_LIMIT_TENANT_BURST: "6" };

  let h: ApiHarness;
  let second: RunningApi | undefined;
  afterEach(async () => {
    await second?.close();
    second = undefined;
    await h?.close();
  });

  /** Twelve requests of one tenant, alternating between the two replicas. */
  async function alternate(token: string, replicas: RunningApi[]): Promise<number[]> {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await fetch(`${replicas[i % replicas.length]!.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: "{ viewer { subject } }" }),
      });
      await res.text();
      statuses.push(res.status);
    }
    return statuses;
  }

  const count = (statuses: number[], status: number) => statuses.filter((s) => s === status).length;

  it("control: in memory, two replicas let twice the tenant limit through", async function () {
    h = await startHarness({ ...limits });
    second = await startApi(h.config, { db: h.apiDb, logger: pino({ level: "silent" }) });
    const statuses = await alternate(await h.token("acme", "viewer"), [h.api, second]);
    expect(count(statuses, 200)).to.equal(12);
  });

  it("on Redis, the tenant limit holds in total across two replicas", async function () {
    const keyPrefix = prefix();
    h = await startHarness({ ...limits, RATE_LIMIT_STORE: "redis", REDIS_URL, RATE_LIMIT_KEY_PREFIX: keyPrefix });
    second = await startApi(h.config, { db: h.apiDb, logger: pino({ level: "silent" }) });
    const statuses = await alternate(await h.token("acme", "viewer"), [h.api, second]);
    expect(count(statuses, 200), statuses.join(",")).to.equal(6);
    expect(count(statuses, 429)).to.equal(6);
    // Both replicas refused some: the budget is one, not one each.
    expect(statuses.slice(6)).to.deep.equal([429, 429, 429, 429, 429, 429]);
    // Refusals carry Retry-After and the RateLimit fields, as in memory.
    const refused = await h.gql(await h.token("acme", "viewer"), "{ viewer { subject } }");
    expect(refused.status).to.equal(429);
    expect(Number(refused.headers.get("retry-after"))).to.be.within(1, 600);
    expect(refused.headers.get("ratelimit-limit")).to.equal("6");
    expect(refused.headers.get("ratelimit-remaining")).to.equal("0");
    // Another tenant has its own budget.
    expect(count(await alternate(await h.token("globex", "viewer"), [h.api, second]), 200)).to.equal(6);
    const redis = new Redis(REDIS_URL);
    try {
      expect(await redis.exists(`${keyPrefix}tenant:acme`)).to.equal(1);
      await redis.del(`${keyPrefix}tenant:acme`, `${keyPrefix}tenant:globex`, `${keyPrefix}ip:127.0.0.1`);
    } finally {
      redis.disconnect();
    }
  });

  it("Redis down mid-run: serving goes on, each replica applies its own limit, with a warning and a metric", async function () {
    const redis = await startPrivateRedis();
    const { logger, lines } = capturingLogger();
    try {
      h = await startHarness({ ...limits, RATE_LIMIT_STORE: "redis", REDIS_URL: redis.url, RATE_LIMIT_KEY_PREFIX: prefix() }, { logger });
      second = await startApi(h.config, { db: h.apiDb, logger });
      const token = await h.token("acme", "viewer");
      expect(count(await alternate(token, [h.api, second]), 200)).to.equal(6);
      await redis.stop();
      // The shared budget is spent, but the store is gone: each replica's own bucket (6) decides.
      const during = await alternate(token, [h.api, second]);
      expect(count(during, 200), during.join(",")).to.equal(12);
      const more = await alternate(token, [h.api, second]);
      expect(count(more, 429), more.join(",")).to.equal(12);
      const metrics = await (await fetch(`${h.api.metricsUrl}/metrics`)).text();
      expect(metrics).to.match(/meterline_api_rate_limit_store_errors_total\{scope="tenant"\} [1-9]/);
      expect(lines.some((l) => String(l.msg).startsWith("rate limit store (Redis)"))).to.equal(true);
      expect(JSON.stringify(lines)).to.not.contain(redis.url);
    } finally {
      await redis.stop().catch(() => undefined);
    }
  });

  it("Redis unreachable at startup: the API starts, limits per replica, and shares the limit once Redis is up", async function () {
    const port = await freePort();
    const keyPrefix = prefix();
    const { logger, lines } = capturingLogger();
    h = await startHarness({ ...limits, RATE_LIMIT_STORE: "redis", REDIS_URL: `redis://127.0.0.1:${port}`, RATE_LIMIT_KEY_PREFIX: keyPrefix }, { logger });
    const token = await h.token("acme", "viewer");
    const statuses = await alternate(token, [h.api]);
    expect(statuses).to.deep.equal([200, 200, 200, 200, 200, 200, 429, 429, 429, 429, 429, 429]);
    expect(lines.some((l) => String(l.msg).includes("unreachable at startup"))).to.equal(true);
    const redis = await startPrivateRedis(port);
    try {
      // ioredis reconnects by itself (backoff up to 2 s); then the limit is counted in Redis again.
      const probe = new Redis(redis.url);
      try {
        for (let i = 0; i < 50 && (await probe.exists(`${keyPrefix}tenant:globex`)) === 0; i++) {
          await h.gql(await h.token("globex", "viewer"), "{ viewer { subject } }");
          await new Promise((r) => setTimeout(r, 200));
        }
        expect(await probe.exists(`${keyPrefix}tenant:globex`)).to.equal(1);
      } finally {
        probe.disconnect();
      }
    } finally {
      await redis.stop();
    }
  });

  it("RATE_LIMIT_STORE=redis needs REDIS_URL", async function () {
    const { parseApiConfig, ConfigError } = await import("../../api/config");
    expect(() => parseApiConfig({ OIDC_ISSUER: "https://idp.example", OIDC_AUDIENCE: "x", RATE_LIMIT_STORE: "redis" })).to.throw(ConfigError, "REDIS_URL: required when RATE_LIMIT_STORE=redis");
    expect(() => parseApiConfig({ OIDC_ISSUER: "https://idp.example", OIDC_AUDIENCE: "x", RATE_LIMIT_STORE: "redis", REDIS_URL: "http://x" })).to.throw(ConfigError, /^REDIS_URL:/);
    const config: ApiConfig = parseApiConfig({ OIDC_ISSUER: "https://idp.example", OIDC_AUDIENCE: "x", RATE_LIMIT_STORE: "redis", REDIS_URL });
    expect(config.rateLimit.store).to.deep.equal({ kind: "redis", url: REDIS_URL, keyPrefix: "meterline:rl:" });
  });
});
