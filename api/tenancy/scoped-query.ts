import pg from "pg";

/** A parameterized statement. */
export interface Statement {
  text: string;
  values: readonly unknown[];
  /** The statement's own column parsers; pg's defaults otherwise. */
  types?: pg.CustomTypesConfig;
}

/** The slice of pg's protocol connection a query writes to (pg ships no declarations for it). */
interface ProtocolWriter {
  parse(m: { text: string; name: string; types: number[] }): void;
  bind(m: { portal: string; statement: string; values: readonly unknown[] }): void;
  execute(m: { portal: string; rows: number }): void;
}

/** pg.Query's internals that this subclass extends; declared here because @types/pg omits them. */
interface QueryInternals {
  prepare(connection: ProtocolWriter): void;
  handleDataRow(msg: unknown): void;
  handleCommandComplete(msg: unknown, connection: unknown): void;
}

/**
 * A query preceded by a setup statement in the same extended-protocol exchange: Parse/Bind/Execute
 * of the setup, then Parse/Bind/Describe/Execute of the query, then one Sync. Everything before a
 * Sync runs in one implicit transaction, so the setup's transaction-local settings (role, tenant,
 * timeout) apply to the query and end with it, and the whole read costs one round trip. Both
 * statements are bound with parameters: no user input is ever inlined.
 *
 * The setup statement must return at most rows that are thrown away (it has no Describe, so its
 * rows arrive before any RowDescription); the result is the query's alone. An error in either
 * statement fails the query (the server skips to the Sync).
 */
export class ScopedQuery<R extends pg.QueryResultRow> extends pg.Query<R> {
  private setupDone = false;

  constructor(
    private readonly setup: Statement,
    query: Statement,
  ) {
    // Extended mode even without values: the setup must run in the same exchange.
    super({ text: query.text, values: [...query.values], queryMode: "extended", ...(query.types ? { types: query.types } : {}) } as pg.QueryConfig);
  }

  prepare(connection: ProtocolWriter): void {
    // Values are sent as text; the setup's are strings already, which pg writes unchanged.
    connection.parse({ text: this.setup.text, name: "", types: [] });
    connection.bind({ portal: "", statement: "", values: this.setup.values });
    connection.execute({ portal: "", rows: 0 });
    (pg.Query.prototype as unknown as QueryInternals).prepare.call(this, connection);
  }

  handleDataRow(msg: unknown): void {
    if (this.setupDone) (pg.Query.prototype as unknown as QueryInternals).handleDataRow.call(this, msg);
  }

  handleCommandComplete(msg: unknown, connection: unknown): void {
    if (!this.setupDone) {
      this.setupDone = true;
      return;
    }
    (pg.Query.prototype as unknown as QueryInternals).handleCommandComplete.call(this, msg, connection);
  }
}

/** Runs `query` after `setup` on `client` in one round trip; resolves with the query's result. */
export function queryAfterSetup<R extends pg.QueryResultRow>(client: pg.ClientBase, setup: Statement, query: Statement): Promise<pg.QueryResult<R>> {
  return new Promise((resolve, reject) => {
    const q = new ScopedQuery<R>(setup, query);
    // A Submittable with a callback: pg calls it once, with the error or the result.
    (q as unknown as { callback: (err: Error | null, res?: pg.QueryResult<R>) => void }).callback = (err, res) =>
      err ? reject(err) : resolve(res!);
    client.query(q);
  });
}
