import { expect } from "chai";
import pg from "pg";
import type { Database } from "../../db/connection";
import { USAGE_SQL } from "../../api/read/usage";
import { toGlobalId } from "../../api/resolvers/ids";
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

  it("the API's day series reads the daily rollups under the API role, and follows a time zone change made by the API role", async function () {
    const token = await h.token("acme", "viewer");
    const meter = toGlobalId("Meter", h.tenantIds.acme, 1);
    const from = new Date(Date.now() - 3 * 86_400_000);
    const to = new Date(Date.now() + 86_400_000);
    const series = async () => {
      const res = await h.gql(
        token,
        "query($m: ID!, $f: DateTime!, $t: DateTime!) { usage(meter: $m, from: $f, to: $t, granularity: DAY) { bucketStart quantity max records } }",
        { m: meter, f: from.toISOString(), t: to.toISOString() },
      );
      expect(res.body.errors).to.equal(undefined);
      return res.body.data!.usage as { bucketStart: string; quantity: string; max: string; records: string }[];
    };
    const fold = async () => {
      const { rows } = await h.db.pool.query<{ bucket_start: Date; quantity: string; max: string; records: string }>(USAGE_SQL.FOLDED, [h.tenantIds.acme, 1, from, to, "day"]);
      return rows.map((r) => ({ bucketStart: r.bucket_start.toISOString(), quantity: r.quantity, max: r.max, records: r.records }));
    };
    const before = await series();
    expect(before.reduce((n, p) => n + Number(p.records), 0)).to.equal(30);
    expect(before).to.deep.equal(await fold());
    const { rows: daily } = await h.db.pool.query("SELECT count(*)::int AS n FROM usage_daily_rollups WHERE tenant_id = $1 AND meter_id = 1", [h.tenantIds.acme]);
    expect(daily[0].n).to.be.within(2, 3);

    // As the API role under row-level security, as billing/setTimeZone does (its own checks,
    // e.g. refusing once invoices exist, are not what is under test here).
    const changed = await tdb.run({ tenant: "acme" }, (c, id) => c.query("UPDATE tenants SET time_zone = 'Asia/Kathmandu' WHERE id = $1", [id]));
    expect(changed.rowCount).to.equal(1);
    const after = await series();
    expect(after).to.deep.equal(await fold());
    expect(after.map((p) => p.bucketStart)).to.not.deep.equal(before.map((p) => p.bucketStart));
    expect(new Date(after[0]!.bucketStart).getUTCMinutes()).to.equal(15); // Kathmandu is UTC+5:45
  });
});
