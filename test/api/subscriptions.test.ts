import { expect } from "chai";
import hre from "hardhat";
import pino from "pino";
import { startApi, type RunningApi } from "../../api";
import { parseApiConfig } from "../../api/config";
import type { Database } from "../../db/connection";
import { startLocalIdp, type LocalIdp } from "../../stack/local-idp";
import { createTestDatabase, openAsRole, type TestDatabase } from "../helpers/database";
import { serveChain, Workload, type ChainServer } from "../indexer/helpers/chain";
import { runIndexer, testConfig } from "../indexer/helpers/indexer";
import { waitForCheckpoint } from "../indexer/helpers/truth";
import { AUDIENCE, startHarness, type ApiHarness } from "./fixtures";

async function openStream(h: ApiHarness, query: string, token?: string) {
  const res = await fetch(`${h.api.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query }),
    signal: AbortSignal.timeout(20_000),
  });
  return res;
}

/** Reads SSE `next` events until the stream ends or `until` says stop. */
async function collect(res: Response, until: (events: unknown[]) => boolean): Promise<{ events: unknown[]; ended: boolean }> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const events: unknown[] = [];
  let buffer = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { events, ended: true };
    buffer += decoder.decode(value, { stream: true });
    let i: number;
    while ((i = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, i);
      buffer = buffer.slice(i + 2);
      if (!/^event: next$/m.test(block)) continue;
      const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("");
      events.push(JSON.parse(data));
    }
    if (until(events)) {
      await reader.cancel();
      return { events, ended: false };
    }
  }
}

describe("api: SSE subscriptions", function () {
  let h: ApiHarness;
  before(async () => {
    h = await startHarness({}, { ttlSeconds: 5 });
  });
  after(async () => h?.close());

  it("rejects a subscription without a token, or with an expired one", async function () {
    expect((await openStream(h, "subscription { usageRecorded { records } }")).status).to.equal(401);
    const now = Math.floor(Date.now() / 1000);
    const expired = await h.idp.signWithIdpKey({
      iss: h.idp.issuer,
      aud: h.config.oidc.audience,
      sub: "acme-viewer",
      tenant_id: "acme",
      roles: ["viewer"],
      iat: now - 120,
      exp: now - 60,
    });
    const res = await openStream(h, "subscription { usageRecorded { records } }", expired);
    expect(res.status).to.equal(401);
    expect(res.headers.get("www-authenticate")).to.contain('error="invalid_token"');
  });

  it("delivers the tenant's usage notifications only, then closes when the token expires", async function () {
    const token = await h.idp.getToken("acme-viewer", "secret-acme-viewer");
    const issuedAt = Date.now();
    const res = await openStream(h, "subscription { usageRecorded { records toBlock } }", token);
    expect(res.status).to.equal(200);
    expect(res.headers.get("content-type")).to.contain("text/event-stream");
    const notify = async () => {
      // Give the subscription time to LISTEN, then announce usage of both tenants.
      await new Promise((r) => setTimeout(r, 500));
      const send = (tenantId: string, records: number) =>
        h.db.pool.query("SELECT pg_notify('meterline_usage', $1)", [JSON.stringify({ tenantId, records, toBlock: "777" })]);
      await send(h.tenantIds.globex, 99);
      await send(h.tenantIds.acme, 3);
    };
    const [result] = await Promise.all([collect(res, () => false), notify()]);
    expect(result.ended).to.equal(true);
    expect(result.events).to.deep.equal([{ data: { usageRecorded: { records: 3, toBlock: "777" } } }]);
    const lived = Date.now() - issuedAt;
    // The token lives 5 s: the stream must end around then, not stay open.
    expect(lived).to.be.within(3000, 9000);
  });

  it("announces a batch when the indexer's transaction commits, never one that rolled back", async function () {
    const token = await h.idp.getToken("acme-viewer", "secret-acme-viewer");
    const res = await openStream(h, "subscription { usageRecorded { records toBlock } }", token);
    expect(res.status).to.equal(200);
    const events: unknown[] = [];
    const batches = async () => {
      await new Promise((r) => setTimeout(r, 500));
      const notice = (records: number, toBlock: string) => JSON.stringify({ tenantId: h.tenantIds.acme, records, toBlock });
      // Like the indexer: the NOTIFY is issued inside the batch's write transaction.
      const c = await h.db.pool.connect();
      try {
        await c.query("BEGIN");
        await c.query("SELECT pg_notify('meterline_usage', $1)", [notice(5, "801")]);
        await c.query("ROLLBACK");
        await c.query("BEGIN");
        await c.query("SELECT pg_notify('meterline_usage', $1)", [notice(7, "802")]);
        // Held open a while: nothing may reach the stream before the commit.
        await new Promise((r) => setTimeout(r, 300));
        expect(events).to.deep.equal([]);
        await c.query("COMMIT");
      } finally {
        c.release();
      }
    };
    const [result] = await Promise.all([
      collect(res, (e) => {
        events.splice(0, events.length, ...e);
        return e.length >= 1;
      }),
      batches(),
    ]);
    expect(result.events).to.deep.equal([{ data: { usageRecorded: { records: 7, toBlock: "802" } } }]);
  });

  it("delivers quota alerts from the quota_alerts trigger", async function () {
    const token = await h.idp.getToken("acme-viewer", "secret-acme-viewer");
    const res = await openStream(h, "subscription { quotaAlert { meterId threshold limit usage } }", token);
    expect(res.status).to.equal(200);
    const insert = async () => {
      await new Promise((r) => setTimeout(r, 500));
      for (const [tenant, threshold] of [[h.tenantIds.globex, 50], [h.tenantIds.acme, 80]] as const) {
        await h.db.pool.query(
          `INSERT INTO quota_alerts (tenant_id, meter_id, period_start, period_end, threshold, limit_value, usage)
           VALUES ($1, 1, '2026-11-01', '2026-12-01', $2, 1000, 800)`,
          [tenant, threshold],
        );
      }
    };
    const [result] = await Promise.all([collect(res, (e) => e.length >= 1), insert()]);
    expect(result.events).to.deep.equal([{ data: { quotaAlert: { meterId: 1, threshold: 80, limit: "1000", usage: "800" } } }]);
  });
});

describe("api: SSE usageRecorded from a real indexer (Hardhat over HTTP + WS, PostgreSQL, each service as its role)", function () {
  let server: ChainServer;
  let w: Workload;
  let db: TestDatabase;
  let asIndexer: Database;
  let asApi: Database;
  let idp: LocalIdp;
  let api: RunningApi;

  before(async function () {
    await hre.network.provider.request({ method: "hardhat_reset", params: [] });
    server = await serveChain(hre);
    w = new Workload(hre, { tenants: 2, metersPerTenant: 1, reportersPerTenant: 1 });
    await w.deploy();
    db = await createTestDatabase();
    asIndexer = await openAsRole(db, "meterline_indexer");
    asApi = await openAsRole(db, "meterline_api");
    idp = await startLocalIdp({ clients: [{ clientId: "t1-viewer", clientSecret: "secret-t1", tenant: "tenant-1", roles: ["viewer"] }], audience: AUDIENCE });
    const config = parseApiConfig({ NODE_ENV: "test", HOST: "127.0.0.1", PORT: "0", OIDC_ISSUER: idp.issuer, OIDC_AUDIENCE: AUDIENCE });
    api = await startApi(config, { db: asApi, logger: pino({ level: process.env.API_TEST_LOG ?? "silent" }) });
  });

  after(async function () {
    await api?.close();
    await idp?.close();
    await asApi?.close();
    await asIndexer?.close();
    await db?.drop();
    await server?.close();
  });

  it("delivers each reveal of the caller's tenant once its batch is committed: the record is already queryable when the event arrives", async function () {
    // Polling a minute apart: the event can only come from the newHeads wake-up and the NOTIFY push.
    const indexer = await runIndexer(testConfig(w, server.url, { WS_RPC_URL: server.wsUrl, POLL_INTERVAL_MS: "60000" }), asIndexer);
    try {
      await waitForCheckpoint(db.pool, await w.head(), 10_000);
      const token = await idp.getToken("t1-viewer", "secret-t1");
      const res = await fetch(`${api.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "text/event-stream", authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: "subscription { usageRecorded { records toBlock } }" }),
        signal: AbortSignal.timeout(30_000),
      });
      expect(res.status).to.equal(200);
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      const nextEvent = async (): Promise<{ records: number; toBlock: string }> => {
        for (;;) {
          const i = buffer.indexOf("\n\n");
          if (i >= 0) {
            const block = buffer.slice(0, i);
            buffer = buffer.slice(i + 2);
            if (!/^event: next$/m.test(block)) continue;
            const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("");
            return (JSON.parse(data) as { data: { usageRecorded: { records: number; toBlock: string } } }).data.usageRecorded;
          }
          const { done, value } = await reader.read();
          if (done) throw new Error("the stream ended");
          buffer += decoder.decode(value, { stream: true });
        }
      };
      const countOf = async (commitment: string): Promise<number> => {
        const r = await fetch(`${api.url}/graphql`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: "query($c: String!) { usageRecords(filter: { commitment: $c }) { totalCount } }", variables: { c: commitment } }),
        });
        return ((await r.json()) as { data: { usageRecords: { totalCount: number } } }).data.usageRecords.totalCount;
      };
      // Give the stream time to LISTEN (its first event would otherwise be missed).
      await new Promise((r) => setTimeout(r, 300));
      for (let i = 0; i < 3; i++) {
        // Tenant 2 reveals first: its usage is not announced to tenant 1's stream.
        for (const tenant of [2, 1]) {
          const reporter = w.tenantReporters.get(tenant)![0]!;
          const records = await w.makeRecords(tenant, reporter, 2 + i, await w.latestTimestamp());
          const c = w.commitData(tenant, reporter, records);
          await w.send(c.data, reporter);
          await w.mine(1);
          const hash = await w.send(w.revealData(tenant, reporter, c.salt, records), reporter);
          const receipt = await w.pub.getTransactionReceipt({ hash });
          if (tenant === 2) continue;
          const event = await nextEvent();
          expect(event).to.deep.equal({ records: 2 + i, toBlock: receipt.blockNumber.toString() });
          expect(await countOf(c.commitment)).to.equal(2 + i);
        }
      }
      await reader.cancel();
      expect(indexer.failure()).to.equal(null);
    } finally {
      await indexer.stop();
    }
  });
});
