import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { ApiConfig } from "../config";

export interface Listening {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** HTTP or HTTPS (when configured, TLS_MIN_VERSION and up), listening on the configured address. */
export async function listen(config: Pick<ApiConfig, "host" | "port" | "tls">, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Listening> {
  const server: Server = config.tls
    ? createHttpsServer({ cert: config.tls.cert, key: config.tls.key, minVersion: config.tls.minVersion }, handler)
    : createHttpServer(handler);
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  // SSE streams live as long as their token; keep-alive sockets do not.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `${config.tls ? "https" : "http"}://${host}:${address.port}`,
    port: address.port,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
