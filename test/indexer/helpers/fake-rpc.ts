/**
 * A small JSON-RPC server over real HTTP that answers the eth_ calls the indexer makes for a chain
 * of `head` empty blocks, and can misbehave in the ways the fault tests need: parent hashes that do
 * not chain (an endpoint behind a load balancer over nodes on different forks), or rejecting every
 * request (HTTP 401, wrong credentials). Only the fault under test is fake; the indexer's RPC
 * client, retries and database are real.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { keccak256, numberToHex, toHex } from "viem";

export const FAKE_CHAIN_ID = 31337;

export interface FakeRpc {
  url: string;
  /** false: every block's parentHash names a block that does not exist. */
  consistent: boolean;
  /** true: every request gets HTTP 401. */
  reject: boolean;
  head: number;
  /** Requests served, by method. */
  calls: Map<string, number>;
  hashOf(n: number): `0x${string}`;
  close(): Promise<void>;
}

const body = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    let s = "";
    req.on("data", (d: Buffer) => (s += d.toString()));
    req.on("end", () => resolve(s));
    req.on("error", reject);
  });

export async function startFakeRpc(opts: { head?: number; consistent?: boolean } = {}): Promise<FakeRpc> {
  const hashOf = (n: number) => keccak256(toHex(`fake-block-${n}`));
  const state: FakeRpc = {
    url: "",
    consistent: opts.consistent ?? true,
    reject: false,
    head: opts.head ?? 10,
    calls: new Map(),
    hashOf,
    close: async () => undefined,
  };
  const answer = (method: string, params: unknown[]): unknown => {
    state.calls.set(method, (state.calls.get(method) ?? 0) + 1);
    switch (method) {
      case "eth_chainId":
        return numberToHex(FAKE_CHAIN_ID);
      case "eth_getCode":
        return "0x6080";
      case "eth_call":
        return "0x";
      case "eth_blockNumber":
        return numberToHex(state.head);
      case "eth_getLogs":
        return [];
      case "eth_getBlockByNumber": {
        const n = Number(BigInt(params[0] as string));
        if (n > state.head) return null;
        return {
          number: numberToHex(n),
          hash: hashOf(n),
          parentHash: state.consistent ? (n === 0 ? `0x${"00".repeat(32)}` : hashOf(n - 1)) : keccak256(toHex(`elsewhere-${n}-${Math.random()}`)),
          timestamp: numberToHex(1_700_000_000 + n * 12),
          transactions: [],
        };
      }
      default:
        throw new Error(`method ${method} not served`);
    }
  };
  const server: Server = createServer((req, res) => {
    void body(req).then((text) => {
      if (state.reject) {
        res.writeHead(401, { "content-type": "text/plain" }).end("unauthorized");
        return;
      }
      const one = (r: { id: unknown; method: string; params?: unknown[] }) => {
        try {
          return { jsonrpc: "2.0", id: r.id, result: answer(r.method, r.params ?? []) };
        } catch (err) {
          return { jsonrpc: "2.0", id: r.id, error: { code: -32601, message: (err as Error).message } };
        }
      };
      const parsed = JSON.parse(text) as unknown;
      const out = Array.isArray(parsed) ? parsed.map(one) : one(parsed as { id: unknown; method: string; params?: unknown[] });
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(out));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}

/** A local port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
