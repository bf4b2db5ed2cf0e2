import type { AddressInfo } from "node:net";
import type { Server } from "node:http";

/** A listening side server of the API (ops routes, the HTTP→HTTPS redirect). */
export interface SideListener {
  url: string;
  close(): Promise<void>;
}

/** Binds `server` (a bind error rejects, e.g. a taken port) and returns its URL and a closer that drops open connections. */
export async function listenSide(server: Server, port: number, host: string): Promise<SideListener> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${shown}:${address.port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
