import pg from "pg";
import type { Logger } from "pino";
import { CHANNEL_NAMES, parseNotice, type ChannelName, type NoticeOf } from "../../db/channels";
import type { Database } from "../../db/connection";

export type Listener<C extends ChannelName> = (notice: NoticeOf[C]) => void;

/** One LISTEN per process, fanned out in memory to subscriptions. */
export interface NotificationHub {
  subscribe<C extends ChannelName>(channel: C, listener: Listener<C>): () => void;
  close(): Promise<void>;
}

export async function createNotificationHub(db: Database, logger: Logger): Promise<NotificationHub> {
  const listeners = new Map<ChannelName, Set<Listener<ChannelName>>>(CHANNEL_NAMES.map((c) => [c, new Set()]));
  const dispatch = (channel: string, raw: string | undefined) => {
    const set = listeners.get(channel as ChannelName);
    if (!set || set.size === 0) return;
    const notice = parseNotice(channel as ChannelName, raw);
    if (notice === null) {
      logger.warn({ channel }, "ignoring a notification whose payload is not of the channel's shape");
      return;
    }
    for (const l of set) l(notice);
  };

  let closed = false;
  let stop: () => Promise<void>;

  if (db.pglite) {
    // Embedded: one backend, no second connection. A NOTIFY issued through the socket server
    // (the pool: the indexer's transactions) comes back on the pooled connection, which LISTENs;
    // one issued on the PGlite instance directly reaches pglite.listen. Each arrives once.
    const unlisten = await Promise.all(CHANNEL_NAMES.map((c) => db.pglite!.listen(c, (p) => dispatch(c, p))));
    const attached = new WeakSet<pg.ClientBase>();
    const onNotification = (n: pg.Notification) => dispatch(n.channel, n.payload);
    const attach = (client: pg.PoolClient) => {
      if (attached.has(client)) return;
      attached.add(client);
      client.on("notification", onNotification);
      // pg queues this behind whatever the client is doing; a failure only loses delivery.
      client.query(CHANNEL_NAMES.map((c) => `LISTEN ${c}`).join("; ")).catch(() => undefined);
    };
    // The pool replaces its connection after errors or idleness: every new one LISTENs too.
    db.pool.on("connect", attach);
    const client = await db.pool.connect();
    attach(client);
    client.release();
    stop = async () => {
      db.pool.off("connect", attach);
      await Promise.all(unlisten.map((u) => u()));
    };
  } else {
    let client: pg.Client | undefined;
    let retry: NodeJS.Timeout | undefined;
    const connect = async (): Promise<void> => {
      // TCP keepalive: this connection only ever reads, so without it a peer that vanished (no
      // FIN, no RST) would leave the streams silently without notifications.
      const c = new pg.Client({ connectionString: db.url, application_name: "meterline-api-listen", keepAlive: true });
      c.on("notification", (n) => dispatch(n.channel, n.payload));
      const reconnect = () => {
        if (closed || client !== c) return;
        client = undefined;
        c.end().catch(() => undefined);
        retry = setTimeout(() => void connect().catch(() => undefined), 1000);
      };
      c.on("error", (err) => {
        logger.warn({ err: err.message }, "notification connection lost; reconnecting");
        reconnect();
      });
      c.on("end", reconnect);
      client = c;
      try {
        await c.connect();
        for (const channel of CHANNEL_NAMES) await c.query(`LISTEN ${channel}`);
      } catch (err) {
        logger.warn({ err: (err as Error).message }, "cannot LISTEN; retrying");
        reconnect();
      }
    };
    await connect();
    stop = async () => {
      clearTimeout(retry);
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
    };
  }

  return {
    subscribe(channel, listener) {
      const set = listeners.get(channel)!;
      set.add(listener as Listener<ChannelName>);
      return () => set.delete(listener as Listener<ChannelName>);
    },
    async close() {
      closed = true;
      await stop();
    },
  };
}
