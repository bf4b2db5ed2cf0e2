/**
 * The operations listener every database-backed service runs next to its work: /metrics
 * (Prometheus), /healthz (the process is alive) and /readyz (it can do its job now: its own checks,
 * e.g. its database under its own role, its lease, its lag). On its own port, bound to loopback
 * unless configured otherwise, so neither metrics nor probes face the public side of a deployment.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface OpsChecks {
  healthy(): boolean;
  /** Ready, or not with a reason per failing check (shown in the 503 body). */
  ready(): Promise<{ ready: boolean; checks: Record<string, boolean | string> }> | { ready: boolean; checks: Record<string, boolean | string> };
}

export async function serveOps(options: { port: number; host: string; registry: Registry; checks: OpsChecks }): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const { registry, checks } = options;
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
      res.end(body);
    };
    if (path === "/metrics") {
      registry.metrics().then(
        (body) => send(200, registry.contentType, body),
        (err: unknown) => send(500, "text/plain", `metrics failed: ${(err as Error).message}\n`),
      );
      return;
    }
    if (path === "/healthz") return send(checks.healthy() ? 200 : 503, "application/json", JSON.stringify({ healthy: checks.healthy() }));
    if (path === "/readyz") {
      Promise.resolve(checks.ready()).then(
        (r) => send(r.ready ? 200 : 503, "application/json", JSON.stringify(r)),
        (err: unknown) => send(503, "application/json", JSON.stringify({ ready: false, checks: { error: (err as Error).message } })),
      );
      return;
    }
    send(404, "text/plain", "not found\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
