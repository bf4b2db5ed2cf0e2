import { expect } from "chai";
import fc from "fast-check";
import { periodContaining } from "../../rating/periods";
import { createTestDatabase, type TestDatabase } from "../helpers/database";

// Zones with DST, half- and quarter-hour offsets, the date line and no DST at all.
const ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe", "Pacific/Chatham", "Pacific/Apia", "America/St_Johns", "Asia/Tokyo"];

/** One rule, two implementations: SQL billing_period_start/end (quotas) and TypeScript periodContaining (billing). */
describe("rating: billing periods agree in TypeScript and SQL", function () {
  this.timeout(120_000);
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  it("on random instants (DST changes included) and time zones", async function () {
    await fc.assert(
      fc.asyncProperty(
        fc.date({ min: new Date("2020-01-01T00:00:00Z"), max: new Date("2035-12-31T23:59:59Z"), noInvalidDate: true }),
        fc.constantFrom(...ZONES),
        async (at, zone) => {
          const { rows } = await db.pool.query<{ s: Date; e: Date }>("SELECT billing_period_start($1, $2) AS s, billing_period_end($1, $2) AS e", [zone, at]);
          const ts = periodContaining(at, zone);
          expect(rows[0]!.s.toISOString(), `${zone} ${at.toISOString()}`).to.equal(ts.start.toISOString());
          expect(rows[0]!.e.toISOString(), `${zone} ${at.toISOString()}`).to.equal(ts.end.toISOString());
        },
      ),
      { numRuns: 300 },
    );
  });

  it("at and around month boundaries", async function () {
    for (const zone of ZONES) {
      for (const month of [0, 2, 3, 9, 10]) {
        const start = periodContaining(new Date(Date.UTC(2026, month, 15)), zone).start;
        for (const delta of [-1, 0, 1]) {
          const at = new Date(start.getTime() + delta);
          const { rows } = await db.pool.query<{ s: Date }>("SELECT billing_period_start($1, $2) AS s", [zone, at]);
          expect(rows[0]!.s.toISOString(), `${zone} ${at.toISOString()}`).to.equal(periodContaining(at, zone).start.toISOString());
        }
      }
    }
  });
});
