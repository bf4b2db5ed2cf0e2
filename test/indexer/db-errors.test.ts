import { expect } from "chai";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import pg from "pg";
import pino from "pino";
import { DatabaseQueryError, DatabaseUnavailableError, toDatabaseError } from "../../indexer/db-errors";
import { withDbRetry } from "../../indexer/db-retry";
import { ChainMovedError, IndexerError, isRetryable, LeaseLostError } from "../../indexer/errors";
import { createTestDatabase, type TestDatabase } from "../helpers/database";

/** What a real failure classifies as (the raw error is kept as `cause`). */
async function classified(fail: () => Promise<unknown>): Promise<IndexerError> {
  const raw = await fail().then(
    () => {
      throw new Error("expected the step to fail");
    },
    (err: unknown) => err,
  );
  const err = toDatabaseError(raw);
  expect(err).to.be.instanceOf(IndexerError);
  expect((err as IndexerError).cause).to.equal(raw);
  return err as IndexerError;
}

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("indexer: database error classification (the pg boundary)", function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let client: pg.Client;

  beforeEach(async () => {
    db = await createTestDatabase();
    client = new pg.Client({ connectionString: db.url });
    // A backend killed while idle reports through the 'error' event; the test reads the next query.
    client.on("error", () => undefined);
    await client.connect();
  });
  afterEach(async () => {
    await client.end().catch(() => undefined);
    await db.drop();
  });

  async function terminate(pid: number): Promise<void> {
    await db.pool.query("SELECT pg_terminate_backend($1)", [pid]);
  }

  it("a backend terminated during a query is DatabaseUnavailableError (57P01), retryable", async function () {
    const { rows } = await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
    const err = await classified(async () => {
      const sleeping = client.query("SELECT pg_sleep(30)");
      await new Promise((r) => setTimeout(r, 200));
      await terminate(rows[0]!.pid);
      await sleeping;
    });
    expect(err).to.be.instanceOf(DatabaseUnavailableError);
    expect((err as DatabaseUnavailableError).code).to.equal("57P01");
    expect(err.retryable).to.equal(true);

    // The next query on the dead client fails in pg itself, with no code: still "unavailable".
    const next = await classified(() => client.query("SELECT 1"));
    expect(next).to.be.instanceOf(DatabaseUnavailableError);
    expect((next as DatabaseUnavailableError).code).to.equal(undefined);
    expect(next.retryable).to.equal(true);
  });

  it("a refused connection is DatabaseUnavailableError (ECONNREFUSED), retryable", async function () {
    const port = await closedPort();
    const err = await classified(() => new pg.Client({ host: "127.0.0.1", port, user: "postgres" }).connect());
    expect(err).to.be.instanceOf(DatabaseUnavailableError);
    expect((err as DatabaseUnavailableError).code).to.equal("ECONNREFUSED");
    expect(err.retryable).to.equal(true);
  });

  it("a syntax error is DatabaseQueryError (42601), not retryable", async function () {
    const err = await classified(() => client.query("SELEC 1"));
    expect(err).to.be.instanceOf(DatabaseQueryError);
    expect((err as DatabaseQueryError).code).to.equal("42601");
    expect(err.retryable).to.equal(false);
  });

  it("a unique violation is DatabaseQueryError (23505), not retryable", async function () {
    await client.query("INSERT INTO chains (chain_id) VALUES (7)");
    const err = await classified(() => client.query("INSERT INTO chains (chain_id) VALUES (7)"));
    expect(err).to.be.instanceOf(DatabaseQueryError);
    expect((err as DatabaseQueryError).code).to.equal("23505");
    expect(err.retryable).to.equal(false);
  });

  it("passes the indexer's own errors and plain bugs through unchanged", function () {
    const lost = new LeaseLostError("held by another indexer");
    expect(toDatabaseError(lost)).to.equal(lost);
    const bug = new TypeError("cannot read properties of undefined");
    expect(toDatabaseError(bug)).to.equal(bug);
    expect(isRetryable(bug)).to.equal(false);
    expect(isRetryable(new ChainMovedError("moved"))).to.equal(false);
  });

  describe("withDbRetry decides on `retryable` alone", function () {
    const opts = () => ({ signal: new AbortController().signal, logger: pino({ level: "silent" }), what: "test", backoff: { baseMs: 1, maxMs: 5 } });

    it("re-runs a step whose connection was terminated", async function () {
      let attempts = 0;
      const n = await withDbRetry(async () => {
        attempts++;
        // The first attempt kills its own backend mid-statement, as pg_terminate_backend from outside would.
        if (attempts === 1) await db.pool.query("SELECT pg_terminate_backend(pg_backend_pid())");
        return (await db.pool.query<{ n: number }>("SELECT 1 AS n")).rows[0]!.n;
      }, opts());
      expect({ attempts, n }).to.deep.equal({ attempts: 2, n: 1 });
    });

    it("stops at once on a statement the server refuses, with the typed error", async function () {
      let attempts = 0;
      const err = await withDbRetry(async () => {
        attempts++;
        await db.pool.query("SELEC 1");
      }, opts()).catch((e: unknown) => e);
      expect(attempts).to.equal(1);
      expect(err).to.be.instanceOf(DatabaseQueryError);
    });

    it("gives up after maxAttempts", async function () {
      const port = await closedPort();
      let attempts = 0;
      const err = await withDbRetry(async () => {
        attempts++;
        await new pg.Client({ host: "127.0.0.1", port, user: "postgres" }).connect();
      }, { ...opts(), maxAttempts: 3 }).catch((e: unknown) => e);
      expect(attempts).to.equal(3);
      expect(err).to.be.instanceOf(DatabaseUnavailableError);
    });
  });
});
