import type pg from "pg";

/**
 * Runs `fn` in a transaction on one pooled client. Unlike a plain checkout it keeps an 'error'
 * listener on the client while it is out of the pool (a backend killed between two statements
 * would otherwise surface as an uncaught exception), and a client that failed is destroyed rather
 * than returned, so a dead connection never poisons the next batch.
 */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error) => {
    broken = err;
  };
  client.on("error", onError);
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    broken ??= err instanceof Error ? err : new Error(String(err));
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.off("error", onError);
    client.release(broken);
  }
}
