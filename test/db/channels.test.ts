import { expect } from "chai";
import pg from "pg";
import { CHANNELS, parseNotice } from "../../db/channels";
import { createTestDatabase, type TestDatabase } from "../helpers/database";
import { syntheticBatch, syntheticContract } from "../indexer/helpers/batch";
import { withTransaction } from "../../db/connection";
import { writeBatch } from "../../indexer/store/write-batch";

/** The SQL side of a channel (a trigger) must produce payloads the TypeScript side parses. */
describe("db: notify channels", function () {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  it("the quota_alerts trigger notifies CHANNELS.quotaAlert with a payload of its declared shape", async function () {
    const contract = await syntheticContract(db);
    await withTransaction(db.pool, (c) => writeBatch(c, contract, syntheticBatch({ slug: "acme", meters: 1, reveals: [] }), { pruneBelow: 0n }));
    const tenantId = (await db.pool.query<{ id: string }>("SELECT id::text FROM tenants WHERE slug = 'acme'")).rows[0]!.id;
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    try {
      const received = new Promise<string | undefined>((resolve) => listener.on("notification", (n) => resolve(n.payload)));
      await listener.query(`LISTEN ${CHANNELS.quotaAlert}`);
      await db.pool.query(
        `INSERT INTO quota_alerts (tenant_id, meter_id, period_start, period_end, threshold, limit_value, usage)
         VALUES ($1, 1, '2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z', 80, 1000, 812)`,
        [tenantId],
      );
      const notice = parseNotice(CHANNELS.quotaAlert, await received);
      expect(notice).to.include({ tenantId, meterId: 1, threshold: 80, limit: "1000", usage: "812" });
      expect(new Date(notice!.periodStart).toISOString()).to.equal("2026-01-01T00:00:00.000Z");
    } finally {
      await listener.end();
    }
  });

  it("refuses payloads of another shape", function () {
    expect(parseNotice(CHANNELS.usage, "not json")).to.equal(null);
    expect(parseNotice(CHANNELS.usage, JSON.stringify({ tenantId: 1, records: 2, toBlock: "3" }))).to.equal(null);
    expect(parseNotice(CHANNELS.usage, JSON.stringify({ tenantId: "1", records: 2, toBlock: "3" }))).to.deep.equal({ tenantId: "1", records: 2, toBlock: "3" });
  });
});
