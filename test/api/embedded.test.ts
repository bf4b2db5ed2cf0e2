import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pino from "pino";
import { startApi, type RunningApi } from "../../api";
import { parseApiConfig } from "../../api/config";
import { toGlobalId } from "../../api/resolvers/ids";
import { openDatabase, type Database } from "../../db/connection";
import { migrate } from "../../db/migrate";
import { startLocalIdp, type LocalIdp } from "../../stack/local-idp";
import { AUDIENCE, seed } from "./fixtures";
import type { TestDatabase } from "../helpers/database";

// The local stack runs the API on embedded PGlite: one connection shared with the indexer.
describe("api: embedded PGlite mode", function () {
  let dir: string;
  let db: Database;
  let idp: LocalIdp;
  let api: RunningApi;
  let acmeId: string;

  before(async function () {
    dir = await mkdtemp(path.join(tmpdir(), "meterline-api-pglite-"));
    db = await openDatabase({ target: { kind: "pglite", dataDir: dir } });
    await migrate(db.pool);
    acmeId = (await seed(db as TestDatabase)).acme;
    idp = await startLocalIdp({
      clients: [{ clientId: "acme-viewer", clientSecret: "s", tenant: "acme", roles: ["viewer"] }],
      audience: AUDIENCE,
    });
    const config = parseApiConfig({ NODE_ENV: "test", PORT: "0", OIDC_ISSUER: idp.issuer, OIDC_AUDIENCE: AUDIENCE });
    api = await startApi(config, { db, logger: pino({ level: "silent" }) });
  });
  after(async function () {
    await api?.close();
    await idp?.close();
    await db?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("serves the tenant's data under row-level security, and SSE notifications from the shared connection", async function () {
    const token = await idp.getToken("acme-viewer", "s");
    const res = await fetch(`${api.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: "{ meters { name } usageRecords { totalCount } }" }),
    });
    expect(await res.json()).to.deep.equal({
      data: { meters: [{ name: "acme-meter-1" }, { name: "acme-meter-2" }], usageRecords: { totalCount: 33 } },
    });

    // The one-round-trip read (settings and statement under one Sync) and the daily rollups work
    // over the embedded socket too: the seed's 30 records of the last 30 hours, by local day.
    const usage = await fetch(`${api.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({
        query: "query($m: ID!, $f: DateTime!, $t: DateTime!) { usage(meter: $m, from: $f, to: $t, granularity: DAY) { records } }",
        variables: { m: toGlobalId("Meter", acmeId, 1), f: new Date(Date.now() - 5 * 86_400_000).toISOString(), t: new Date(Date.now() + 86_400_000).toISOString() },
      }),
    });
    const series = (await usage.json()) as { data: { usage: { records: string }[] } };
    expect(series.data.usage.reduce((n, p) => n + Number(p.records), 0)).to.equal(30);

    const stream = await fetch(`${api.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: "subscription { usageRecorded { records } }" }),
    });
    setTimeout(() => {
      // As the indexer does in embedded mode: NOTIFY through the pool, inside a transaction.
      void db.pool.query("SELECT pg_notify('meterline_usage', $1)", [JSON.stringify({ tenantId: acmeId, records: 4, toBlock: "9" })]);
    }, 500);
    const reader = stream.body!.getReader();
    let text = "";
    while (!text.includes('"records":4')) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    await reader.cancel();
    expect(text).to.contain('{"data":{"usageRecorded":{"records":4}}}');
  });

  it("is ready under the API's own role on the embedded database too", async function () {
    const res = await fetch(`${api.url}/readyz`);
    expect(res.status).to.equal(200);
    expect(await res.json()).to.include({ ready: true, database: true });
  });
});
