import { expect } from "chai";
import { WEBHOOK_EVENT_TYPES } from "../../webhooks/events";
import { createTestDatabase, type TestDatabase } from "../helpers/database";

describe("webhooks: one list of event types", function () {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  it("the outbox's CHECK constraint on event_type allows exactly WEBHOOK_EVENT_TYPES", async function () {
    const { rows } = await db.pool.query<{ def: string }>(
      `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint
        WHERE conrelid = 'webhook_outbox'::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%event_type%'`,
    );
    expect(rows).to.have.length(1);
    const listed = [...rows[0]!.def.matchAll(/'([^']+)'::text/g)].map((m) => m[1]);
    expect(listed.sort()).to.deep.equal([...WEBHOOK_EVENT_TYPES].sort());
  });
});
