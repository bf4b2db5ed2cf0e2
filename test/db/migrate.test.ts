import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { openDatabase } from "../../db/connection";
import { loadMigrations, migrate } from "../../db/migrate";
import { createTestDatabase } from "../helpers/database";

describe("db: migrations", function () {
  it("applies every migration once, is a no-op the second time, and serializes concurrent runs", async function () {
    const db = await createTestDatabase({ migrate: false });
    try {
      const all = (await loadMigrations()).map((m) => m.version);
      const [a, b] = await Promise.all([migrate(db.pool), migrate(db.pool)]);
      expect([...a!, ...b!].sort((x, y) => x - y)).to.deep.equal(all);
      expect(await migrate(db.pool)).to.deep.equal([]);
      const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM schema_migrations");
      expect(rows[0].n).to.equal(all.length);
    } finally {
      await db.drop();
    }
  });

  it("runs the same migrations on the embedded PGlite default", async function () {
    const dir = await mkdtemp(path.join(os.tmpdir(), "meterline-pglite-"));
    const db = await openDatabase({ target: { kind: "pglite", dataDir: dir } });
    try {
      expect(db.embedded).to.equal(true);
      const applied = await migrate(db.pool);
      expect(applied.length).to.be.greaterThan(0);
      const { rows } = await db.pool.query("SELECT to_regclass('usage_records') IS NOT NULL AS ok");
      expect(rows[0].ok).to.equal(true);
    } finally {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
