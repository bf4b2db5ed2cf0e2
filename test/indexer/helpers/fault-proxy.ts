/**
 * A small JSON-RPC proxy that misbehaves on purpose: HTTP 500s, 429s, delays (some longer than
 * the client timeout), truncated bodies, and "query returned more than 10000 results" for
 * eth_getLogs spans wider than `maxLogSpan` blocks, like hosted providers do.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface FaultRates {
  error500: number;
  tooMany429: number;
  delay: number;
  hang: number;
  truncate: number;
}

export interface FaultProxy {
  url: string;
  injected: Record<keyof FaultRates | "rangeRefused", number>;
  close(): Promise<void>;
}

export async function startFaultProxy(upstream: string, rates: FaultRates, opts: { maxLogSpan: number; hangMs: number }): Promise<FaultProxy> {
  const injected = { error500: 0, tooMany429: 0, delay: 0, hang: 0, truncate: 0, rangeRefused: 0 };
  let requests = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        const body = Buffer.concat(chunks).toString();
        const parsed = JSON.parse(body) as { id: unknown; method: string; params: unknown[] } | { id: unknown; method: string; params: unknown[] }[];
        const single = Array.isArray(parsed) ? null : parsed;
        if (single?.method === "eth_getLogs") {
          const f = single.params[0] as { fromBlock: string; toBlock: string };
          if (Number(BigInt(f.toBlock) - BigInt(f.fromBlock)) + 1 > opts.maxLogSpan) {
            injected.rangeRefused++;
            res.writeHead(200, { "content-type": "application/json" });
            res.end(JSON.stringify({ jsonrpc: "2.0", id: single.id, error: { code: -32005, message: "query returned more than 10000 results" } }));
            return;
          }
        }
        // A fixed schedule (co-prime moduli) rather than dice, so every fault type occurs in every run.
        const n = ++requests;
        const every = (rate: number, offset: number) => rate > 0 && n % Math.max(2, Math.round(1 / rate)) === offset;
        if (every(rates.error500, 1)) {
          injected.error500++;
          res.writeHead(500);
          res.end("internal error");
          return;
        }
        if (every(rates.tooMany429, 2)) {
          injected.tooMany429++;
          res.writeHead(429, { "retry-after": "0" });
          res.end("rate limited");
          return;
        }
        if (every(rates.hang, 3)) {
          injected.hang++;
          await new Promise((r) => setTimeout(r, opts.hangMs));
        } else if (every(rates.delay, 4)) {
          injected.delay++;
          await new Promise((r) => setTimeout(r, Math.random() * 200));
        }
        const truncate = every(rates.truncate, 5);
        try {
          const up = await fetch(upstream, { method: "POST", headers: { "content-type": "application/json" }, body });
          const text = await up.text();
          if (res.destroyed) return;
          if (truncate) {
            injected.truncate++;
            res.writeHead(200, { "content-type": "application/json" });
            res.end(text.slice(0, Math.floor(text.length / 2)));
            return;
          }
          res.writeHead(up.status, { "content-type": "application/json" });
          res.end(text);
        } catch {
          res.writeHead(502);
          res.end("bad gateway");
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    injected,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
