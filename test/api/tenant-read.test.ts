import { expect } from "chai";
import pg from "pg";
import type { Database } from "../../db/connection";
import { createTenantDb, type TenantDb } from "../../api/tenancy/tenant-transaction";
import { openAsRole } from "../helpers/database";
import { startHarness, type ApiHarness } from "./fixtures";

const PgPool = pg.Pool;

// TenantDb.read: the tenant settings travel with each statement (one round trip, one implicit
// transaction), and row-level security still confines every statement to the tenant.
describe("api: one-round-trip tenant reads", function () {
  let h: ApiHarness;
  let one: Database;
  let tdb: TenantDb;
  let roundTrips = 0;

  before(async () => {
    h = await startHarness();
    // One connection, so every read below shares it with the checks that follow it.
    one = await openAsRole(h.db, "meterline_api", 1);
    one.pool.on("connect", (client: pg.PoolClient) => {
      // Every Sync (and every simple query) is answered by exactly one ReadyForQuery.
      (client as unknown as { connection: { on(e: string, f: () => void): void } }).connection.on("readyForQuery", () => roundTrips++);
    });
    tdb = createTenantDb(one.pool, { role: "meterline_api", statementTimeoutMs: 2000 });
  });
  after(async () => h?.close());

  it("sends the settings and the statement in one round trip", async function () {
    await tdb.read({ tenant: "acme" }, (db) => db.query("SELECT 1")); // resolves and caches the slug
    const before = roundTrips;
    const rows = await tdb.read({ tenant: "acme" }, async (db) => (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM usage_rollups")).rows);
    expect(roundTrips - before).to.equal(1);
    expect(rows[0]!.n).to.be.greaterThan(0);
  });

  it("row-level security sees the tenant: a statement without a tenant filter reads only its own rows", async function () {
    for (const slug of ["acme", "globex"] as const) {
      const { tenants, id } = await tdb.read({ tenant: slug }, async (db, tenantId) => ({
        id: tenantId,
        tenants: (await db.query<{ t: string }>("SELECT DISTINCT tenant_id::text AS t FROM usage_rollups UNION SELECT DISTINCT tenant_id::text FROM meters")).rows.map((r) => r.t),
      }));
      expect(id).to.equal(h.tenantIds[slug]);
      expect(tenants).to.deep.equal([h.tenantIds[slug]]);
    }
  });

  it("runs as the API role and leaves nothing on the pooled connection, even from a superuser login", async function () {
    // The owner's login (a superuser, which bypasses row-level security) with one connection.
    const owner = new PgPool({ connectionString: h.db.url, max: 1 });
    try {
      const asOwner = createTenantDb(owner, { role: "meterline_api", statementTimeoutMs: 2000 });
      const inside = await asOwner.read({ tenant: "globex" }, async (db) => ({
        settings: (await db.query<{ r: string; t: string; s: string }>("SELECT current_user AS r, current_setting('meterline.tenant_id') AS t, current_setting('statement_timeout') AS s")).rows[0]!,
        tenants: (await db.query<{ t: string }>("SELECT DISTINCT tenant_id::text AS t FROM usage_rollups")).rows.map((r) => r.t),
      }));
      expect(inside.settings).to.deep.equal({ r: "meterline_api", t: h.tenantIds.globex, s: "2s" });
      expect(inside.tenants).to.deep.equal([h.tenantIds.globex]);
      const after = await owner.query<{ r: string; t: string | null; s: string }>(
        "SELECT current_user AS r, current_setting('meterline.tenant_id', true) AS t, current_setting('statement_timeout') AS s",
      );
      expect(after.rows[0]!.r).to.not.equal("meterline_api");
      expect(after.rows[0]!.t ?? "").to.equal("");
      expect(after.rows[0]!.s).to.not.equal("2s");
    } finally {
      await owner.end();
    }
    // And on the API role's own connection, nothing of the tenant remains either.
    const { rows } = await one.pool.query("SELECT current_setting('meterline.tenant_id', true) AS t, (SELECT count(*)::int FROM usage_rollups) AS n");
    expect(rows[0]).to.deep.equal({ t: rows[0].t === null ? null : "", n: 0 });
  });

  it("a failing statement rejects, and the connection serves the next tenant correctly", async function () {
    const err = await tdb.read({ tenant: "acme" }, (db) => db.query("SELECT 1 / 0")).catch((e: unknown) => e as Error);
    expect(err).to.be.instanceOf(Error);
    expect((err as Error).message).to.match(/division by zero/);
    const { rows } = await tdb.read({ tenant: "globex" }, (db) => db.query<{ t: string }>("SELECT DISTINCT tenant_id::text AS t FROM meters"));
    expect(rows.map((r) => r.t)).to.deep.equal([h.tenantIds.globex]);
  });

  it("parameters stay data: a hostile slug is an unknown tenant that sees nothing", async function () {
    for (const slug of ["nobody", "acme'; SELECT set_config('meterline.tenant_id', '1', false); --", "acme\u0000"]) {
      const result = await tdb
        .read({ tenant: slug }, async (db, tenantId) => ({ tenantId, rows: (await db.query("SELECT 1 FROM usage_rollups UNION ALL SELECT 1 FROM meters")).rows }))
        .catch((e: unknown) => ({ tenantId: null, rows: [], error: e }));
      expect(result.tenantId).to.equal(null);
      expect(result.rows).to.have.length(0);
    }
  });

  it("the API's usage query answers through it (GraphQL, real token)", async function () {
    const token = await h.token("acme", "viewer");
    const meters = await h.gql(token, "{ meters { id } }");
    const meter = (meters.body.data!.meters as { id: string }[])[0]!.id;
    const res = await h.gql(
      token,
      "query($m: ID!, $f: DateTime!, $t: DateTime!) { usage(meter: $m, from: $f, to: $t, granularity: HOUR) { bucketStart quantity } }",
      { m: meter, f: new Date(Date.now() - 90 * 86_400_000).toISOString(), t: new Date(Date.now() + 86_400_000).toISOString() },
    );
    expect(res.body.errors).to.equal(undefined);
    expect(res.body.data!.usage).to.be.an("array").that.is.not.empty;
  });
});
