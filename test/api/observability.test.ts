import { expect } from "chai";
import hre from "hardhat";
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { spawnService, type ServiceProcess } from "../helpers/process";
import { createTestDatabase, urlAsRole, type TestDatabase } from "../helpers/database";
import { seed, startHarness, type ApiHarness } from "./fixtures";

const durationSeries = (text: string) => text.split("\n").filter((l) => l.startsWith("meterline_api_request_duration_seconds_count{")).sort();

describe("api: observability", function () {
  describe("metrics", function () {
    let h: ApiHarness;
    let token: string;
    before(async () => {
      h = await startHarness({ METRICS_OPERATIONS: "DashboardUsage" });
      token = await h.token("acme", "viewer");
    });
    after(async () => h?.close());

    const named = (name: string) => h.gql(token, `query ${name} { viewer { subject } }`);

    it("100 requests with random operation names add no series", async function () {
      await named(`R${randomBytes(6).toString("hex")}`);
      const before = durationSeries(await (await fetch(`${h.api.metricsUrl}/metrics`)).text());
      for (let i = 0; i < 100; i++) expect((await named(`R${randomBytes(6).toString("hex")}`)).status).to.equal(200);
      const text = await (await fetch(`${h.api.metricsUrl}/metrics`)).text();
      const after = durationSeries(text);
      expect(after.map((l) => l.replace(/\} .*/, "}"))).to.deep.equal(before.map((l) => l.replace(/\} .*/, "}")));
      expect(text).to.match(/meterline_api_request_duration_seconds_count\{route="\/graphql",operation="other"\} 10[1-9]/);
    });

    it("labels known operations by name: schema root fields and METRICS_OPERATIONS; unnamed as anonymous", async function () {
      await named("Viewer");
      await named("DashboardUsage");
      await h.gql(token, "{ viewer { subject } }");
      const text = await (await fetch(`${h.api.metricsUrl}/metrics`)).text();
      expect(text).to.match(/operation="viewer"\} [1-9]/);
      expect(text).to.match(/operation="DashboardUsage"\} [1-9]/);
      expect(text).to.match(/operation="anonymous"\} [1-9]/);
      expect(text).to.not.match(/operation="Viewer"/);
    });

    it("/metrics is served on the ops listener, on loopback, and not on the public port", async function () {
      expect(h.api.metricsUrl).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(h.api.metricsUrl).to.not.equal(h.api.url);
      expect((await fetch(`${h.api.url}/metrics`)).status).to.equal(404);
      const res = await fetch(`${h.api.metricsUrl}/metrics`);
      expect(res.status).to.equal(200);
      expect(res.headers.get("content-type")).to.match(/^text\/plain/);
      expect((await fetch(`${h.api.metricsUrl}/readyz`)).status).to.equal(200);
      expect((await fetch(`${h.api.metricsUrl}/graphql`)).status).to.equal(404);
    });

    it("METRICS_PORT=off: no ops listener", async function () {
      const off = await startHarness({ METRICS_PORT: "off" });
      try {
        expect(off.api.metricsUrl).to.equal(undefined);
      } finally {
        await off.close();
      }
    });
  });

  describe("/readyz with the API's own role", function () {
    it("is not ready when the API's database role cannot be used", async function () {
      const h = await startHarness({ API_DATABASE_ROLE: "meterline_missing" });
      try {
        const res = await fetch(`${h.api.url}/readyz`);
        expect(res.status).to.equal(503);
        expect(await res.json()).to.deep.equal({ ready: false, database: false, indexerLagBlocks: null });
      } finally {
        await h.close();
      }
    });
  });

  describe("npm run api (api/cli.ts) as its own process", function () {
    this.timeout(120_000);
    let db: TestDatabase;
    let rpc: Server;
    let api: ServiceProcess | undefined;

    before(async () => {
      await hre.network.provider.request({ method: "hardhat_reset", params: [] });
      db = await createTestDatabase();
      await seed(db);
      // The chain: the in-process Hardhat network, reached over HTTP like any JSON-RPC endpoint.
      rpc = createServer((req, res) => {
        let body = "";
        req.on("data", (c: Buffer) => (body += c.toString()));
        req.on("end", () => {
          const call = JSON.parse(body) as { id: number; method: string; params?: unknown[] };
          hre.network.provider
            .request({ method: call.method, params: call.params ?? [] })
            .then((result) => ({ jsonrpc: "2.0", id: call.id, result }))
            .catch((err: Error) => ({ jsonrpc: "2.0", id: call.id, error: { code: -32000, message: err.message } }))
            .then((answer) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer)));
        });
      });
      await new Promise<void>((resolve) => rpc.listen(0, "127.0.0.1", resolve));
    });
    after(async () => {
      await api?.stop();
      await new Promise<void>((resolve) => rpc?.close(() => resolve()));
      await db?.drop();
    });

    it("wires RPC_URL into /readyz: ready within INDEXER_MAX_LAG_BLOCKS, 503 with the lag beyond it; /metrics on METRICS_PORT only", async function () {
      api = spawnService("api/cli.ts", [], {
        NODE_ENV: "production",
        DATABASE_URL: urlAsRole(db.url, "meterline_api"),
        PORT: "0",
        METRICS_PORT: "0",
        OIDC_ISSUER: "http://127.0.0.1:9/",
        OIDC_AUDIENCE: "https://api.meterline.test",
        RPC_URL: `http://127.0.0.1:${(rpc.address() as AddressInfo).port}`,
        INDEXER_MAX_LAG_BLOCKS: "50",
        LOG_LEVEL: "info",
      });
      await api.waitFor(/"msg":"api listening"/);
      const line = JSON.parse(api.output().split("\n").find((l) => l.includes('"api listening"'))!) as { url: string; metricsUrl: string; indexerLag: boolean };
      expect(line.indexerLag).to.equal(true);
      // The seeded checkpoint is block 1000; the fresh chain is far below it.
      let res = await fetch(`${line.url}/readyz`);
      expect(res.status).to.equal(200);
      expect(await res.json()).to.deep.equal({ ready: true, database: true, indexerLagBlocks: "0" });
      await hre.network.provider.request({ method: "hardhat_mine", params: ["0x44c"] }); // 1100 blocks
      res = await fetch(`${line.url}/readyz`);
      expect(res.status).to.equal(503);
      const body = (await res.json()) as { ready: boolean; indexerLagBlocks: string };
      expect(body.ready).to.equal(false);
      expect(Number(body.indexerLagBlocks)).to.be.greaterThan(50);
      expect((await fetch(`${line.url}/metrics`)).status).to.equal(404);
      expect(line.metricsUrl).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(await (await fetch(`${line.metricsUrl}/metrics`)).text()).to.contain("meterline_api_requests_total");
    });
  });
});
