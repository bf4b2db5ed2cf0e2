import { copyFile, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { migrate, MIGRATIONS_DIR } from "../../db/migrate";
import { createTestDatabase, urlAsRole, type TestDatabase } from "../helpers/database";
import { spawnService, type ServiceProcess } from "../helpers/process";
import { FAKE_CHAIN_ID, startFakeRpc, type FakeRpc } from "./helpers/fake-rpc";
import { waitForCheckpoint } from "./helpers/truth";

const env = (rpcUrl: string, databaseUrl: string): Record<string, string> => ({
  RPC_URL: rpcUrl,
  CHAIN_ID: String(FAKE_CHAIN_ID),
  CONTRACT_ADDRESS: "0x00000000000000000000000000000000000000cc",
  DEPLOY_BLOCK: "1",
  DEPLOYMENTS_DIR: "/nonexistent-meterline-deployments",
  DATABASE_URL: databaseUrl,
  CONFIRMATIONS: "0",
  POLL_INTERVAL_MS: "50",
  METRICS_PORT: "off",
  LOG_LEVEL: "info",
});

/** npm run indexer as its least-privilege role (issue #13): it checks the schema, never migrates a server. */
describe("indexer: the CLI as meterline_indexer (fake JSON-RPC server + PostgreSQL)", function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let rpc: FakeRpc;
  const running: ServiceProcess[] = [];

  beforeEach(async () => {
    rpc = await startFakeRpc({ head: 6 });
  });
  afterEach(async () => {
    for (const p of running.splice(0)) await p.stop("SIGKILL");
    await rpc.close();
    await db?.drop();
  });

  it("indexes with DATABASE_URL connecting as meterline_indexer, and exits 0 on SIGTERM", async function () {
    db = await createTestDatabase();
    const p = spawnService("indexer/cli.ts", [], env(rpc.url, urlAsRole(db.url, "meterline_indexer")));
    running.push(p);
    await waitForCheckpoint(db.pool, { number: 6n, hash: rpc.hashOf(6) }, 60_000);
    expect((await p.stop("SIGTERM")).code).to.equal(0);
    expect(p.output()).to.not.match(/permission denied|"level":50|"level":60/);
  });

  it("refuses a server database whose schema is behind, naming the fix (it never migrates as its role)", async function () {
    db = await createTestDatabase({ migrate: false });
    // Every migration but the newest, applied by the owner.
    const dir = await mkdtemp(path.join(tmpdir(), "meterline-migrations-"));
    try {
      const files = (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith(".sql")).sort();
      for (const f of files.slice(0, -1)) await copyFile(path.join(MIGRATIONS_DIR, f), path.join(dir, f));
      await migrate(db.pool, dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const newest = (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith(".sql")).sort().at(-1)!.slice(0, -4);
    const p = spawnService("indexer/cli.ts", [], env(rpc.url, urlAsRole(db.url, "meterline_indexer")));
    running.push(p);
    expect((await p.exited).code).to.equal(1);
    expect(p.output().trim()).to.equal(
      `indexer: the database schema at DATABASE_URL is behind (pending: ${newest}); run npm run db:migrate with the owner's DATABASE_URL first`,
    );
    const { rows } = await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM schema_migrations");
    expect(rows[0]!.n).to.equal((await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith(".sql")).length - 1);
  });

  it("an RPC endpoint that rejects the credentials stops it (exit 2) naming RPC_URL, without the URL's secrets", async function () {
    db = await createTestDatabase();
    rpc.reject = true;
    const secretUrl = rpc.url.replace("http://", "http://meter:hunter2secret@") + "/v3/0123456789abcdefkey";
    const p = spawnService("indexer/cli.ts", [], env(secretUrl, urlAsRole(db.url, "meterline_indexer")));
    running.push(p);
    expect((await p.exited).code).to.equal(2);
    const fatal = JSON.parse(p.output().split("\n").find((l) => l.includes('"indexer failed"'))!) as Record<string, unknown>;
    expect(fatal).to.include({ variable: "RPC_URL", endpoint: `${rpc.url}`.replace("http://", "http://***@") + "/***" });
    for (const secret of ["hunter2secret", "0123456789abcdefkey"]) expect(p.output()).to.not.include(secret);
  });

  it("a WS_RPC_URL that is not ws:// or wss:// stops it before anything else: one line naming WS_RPC_URL, exit 1", async function () {
    db = await createTestDatabase();
    const p = spawnService("indexer/cli.ts", [], { ...env(rpc.url, urlAsRole(db.url, "meterline_indexer")), WS_RPC_URL: "https://user:wspass@node.example/ws" });
    running.push(p);
    expect((await p.exited).code).to.equal(1);
    expect(p.output().trim()).to.equal("indexer: WS_RPC_URL: must be a ws:// or wss:// URL");
  });
});
