import { expect } from "chai";
import hre from "hardhat";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { createPublicClient, http, numberToHex, type EIP1193Parameters, type PublicRpcSchema } from "viem";
import { IndexerError } from "../../indexer/errors";
import { Rpc, type RpcFailureKind } from "../../indexer/rpc";
import {
  RpcInvalidResponseError,
  RpcRangeTooLargeError,
  RpcRateLimitedError,
  RpcRequestRejectedError,
  RpcTimeoutError,
  RpcUnavailableError,
  toRpcError,
  type RpcRequest,
} from "../../indexer/rpc-errors";
import { serveChain, type ChainServer } from "./helpers/chain";

/** How the stub endpoint answers one request. */
interface Reply {
  status?: number;
  body?: string;
  delayMs?: number;
  /** End the connection without a response. */
  drop?: boolean;
}

const jsonRpcError = (code: number, message: string): Reply => ({
  body: JSON.stringify({ jsonrpc: "2.0", id: 0, error: { code, message } }),
});

const isJson = (text: string): boolean => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

/**
 * A JSON-RPC endpoint that answers with whatever `reply` says: the failures real providers send.
 * Batched requests (viem batches header reads) get one reply per request, or one HTTP failure.
 */
async function stubEndpoint(reply: (method: string) => Reply): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const parsed = JSON.parse(Buffer.concat(chunks).toString()) as { id: number; method: string } | { id: number; method: string }[];
      const calls = Array.isArray(parsed) ? parsed : [parsed];
      const replies = calls.map((c) => {
        requests.push(c.method);
        return reply(c.method);
      });
      const first = replies[0]!;
      // Echo each request id so viem matches responses to requests.
      const bodies = replies.map((r, i) => (r.body ?? JSON.stringify({ jsonrpc: "2.0", id: 0, result: "0x1" })).replace('"id":0', `"id":${calls[i]!.id}`));
      const body = Array.isArray(parsed) && first.status === undefined ? `[${bodies.join(",")}]` : bodies[0]!;
      setTimeout(() => {
        if (res.destroyed) return;
        if (first.drop) return void res.socket?.destroy();
        // Like real providers: JSON bodies say so; plain-text error pages do not.
        res.writeHead(first.status ?? 200, isJson(body) ? { "content-type": "application/json" } : {});
        res.end(body);
      }, first.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const logs = (from: bigint, to: bigint): { call: EIP1193Parameters<PublicRpcSchema>; request: RpcRequest } => ({
  call: { method: "eth_getLogs", params: [{ fromBlock: numberToHex(from), toBlock: numberToHex(to) }] },
  request: { method: "eth_getLogs", logRange: { from, to } },
});
const blockNumber = { call: { method: "eth_blockNumber" } as EIP1193Parameters<PublicRpcSchema>, request: { method: "eth_blockNumber" } };

/** Sends one real request through viem's HTTP transport (as the indexer does) and classifies its failure. */
async function classify(
  url: string,
  what: { call: EIP1193Parameters<PublicRpcSchema>; request: RpcRequest },
  timeout = 300,
): Promise<IndexerError> {
  const client = createPublicClient({ transport: http(url, { retryCount: 0, timeout }) });
  const raw = await client.request(what.call).then(
    () => {
      throw new Error("expected the call to fail");
    },
    (err: unknown) => err,
  );
  const err = toRpcError(raw, what.request);
  expect(err).to.be.instanceOf(IndexerError);
  expect((err as IndexerError).cause).to.equal(raw);
  return err as IndexerError;
}

describe("indexer: RPC error classification (the viem boundary)", function () {
  this.timeout(60_000);
  let stub: Awaited<ReturnType<typeof stubEndpoint>> | undefined;
  afterEach(async () => {
    await stub?.close();
    stub = undefined;
  });
  const endpoint = async (reply: (method: string) => Reply) => (stub = await stubEndpoint(reply));

  it("HTTP 429 is RpcRateLimitedError, retryable, never a range refusal", async function () {
    const { url } = await endpoint(() => ({ status: 429, body: "rate limited" }));
    for (const what of [blockNumber, logs(1n, 100n)]) {
      const err = await classify(url, what);
      expect(err).to.be.instanceOf(RpcRateLimitedError);
      expect((err as RpcRateLimitedError).status).to.equal(429);
      expect(err.retryable).to.equal(true);
    }
  });

  it("a rate limit sent as a JSON-RPC error (-32005 with rate-limit wording, 429 in the body) is RpcRateLimitedError", async function () {
    for (const reply of [jsonRpcError(-32005, "daily request count exceeded, request rate limited"), jsonRpcError(429, "Too Many Requests")]) {
      const { url } = await endpoint(() => reply);
      const err = await classify(url, logs(1n, 100n));
      expect(err).to.be.instanceOf(RpcRateLimitedError);
      expect(err.retryable).to.equal(true);
      await stub!.close();
    }
  });

  it("a timeout is RpcTimeoutError (retryable), but on a multi-block eth_getLogs it asks for a smaller range", async function () {
    const { url } = await endpoint(() => ({ delayMs: 1_000 }));
    const plain = await classify(url, blockNumber);
    expect(plain).to.be.instanceOf(RpcTimeoutError);
    expect(plain.retryable).to.equal(true);
    const oneBlock = await classify(url, logs(5n, 5n));
    expect(oneBlock).to.be.instanceOf(RpcTimeoutError);
    const wide = await classify(url, logs(1n, 100n));
    expect(wide).to.be.instanceOf(RpcRangeTooLargeError);
    expect(wide.retryable).to.equal(false);
  });

  it("'query returned more than 10000 results' is RpcRangeTooLargeError (not retryable as is); on one block it is retried", async function () {
    const { url } = await endpoint(() => jsonRpcError(-32005, "query returned more than 10000 results"));
    const err = await classify(url, logs(1n, 100n));
    expect(err).to.be.instanceOf(RpcRangeTooLargeError);
    expect(err.retryable).to.equal(false);
    expect({ from: (err as RpcRangeTooLargeError).from, to: (err as RpcRangeTooLargeError).to, code: (err as RpcRangeTooLargeError).code }).to.deep.equal({
      from: 1n,
      to: 100n,
      code: -32005,
    });
    // A single block cannot be split: a busy node may still answer it later.
    const single = await classify(url, logs(7n, 7n));
    expect(single).to.be.instanceOf(RpcUnavailableError);
    expect(single.retryable).to.equal(true);
  });

  it("HTTP 500, a dropped connection and a refused connection are RpcUnavailableError; a truncated body is RpcInvalidResponseError", async function () {
    let mode: "500" | "drop" | "truncate" = "500";
    const { url } = await endpoint(() =>
      mode === "500" ? { status: 500, body: "internal error" } : mode === "drop" ? { drop: true } : { body: '{"jsonrpc":"2.0","id":0,"resu' },
    );
    const e500 = await classify(url, blockNumber);
    expect(e500).to.be.instanceOf(RpcUnavailableError);
    expect((e500 as RpcUnavailableError).status).to.equal(500);
    mode = "drop";
    expect(await classify(url, blockNumber)).to.be.instanceOf(RpcUnavailableError);
    mode = "truncate";
    const truncated = await classify(url, logs(1n, 100n));
    expect(truncated).to.be.instanceOf(RpcInvalidResponseError);
    expect(truncated.retryable).to.equal(true);
    await stub!.close();
    const refused = await classify(url, blockNumber);
    expect(refused).to.be.instanceOf(RpcUnavailableError);
    expect(refused.retryable).to.equal(true);
  });

  describe("against the Hardhat node", function () {
    let chain: ChainServer;
    before(async () => {
      chain = await serveChain(hre);
    });
    after(async () => {
      await chain.close();
    });

    it("a JSON-RPC method-not-found is RpcRequestRejectedError, not retryable", async function () {
      const call = { method: "eth_noSuchMethod" } as unknown as EIP1193Parameters<PublicRpcSchema>;
      const err = await classify(chain.url, { call, request: { method: "eth_noSuchMethod" } }, 30_000);
      expect(err).to.be.instanceOf(RpcRequestRejectedError);
      expect([-32601, -32004]).to.include((err as RpcRequestRejectedError).code);
      expect(err.retryable).to.equal(false);
      expect(err.message).to.match(/^eth_noSuchMethod: /);
    });
  });

  describe("Rpc retries on `retryable` alone", function () {
    function rpc(url: string) {
      const failures: RpcFailureKind[] = [];
      const client = new Rpc({
        url,
        timeoutMs: 2_000,
        logger: pino({ level: "silent" }),
        signal: new AbortController().signal,
        hooks: { onError: (_method, kind) => failures.push(kind) },
      });
      return { client, failures };
    }

    it("retries 429s until the endpoint answers", async function () {
      let n = 0;
      const s = await endpoint(() => (++n <= 2 ? { status: 429, body: "slow down" } : { body: JSON.stringify({ jsonrpc: "2.0", id: 0, result: "0x2a" }) }));
      const { client, failures } = rpc(s.url);
      expect(await client.blockNumber()).to.equal(42n);
      expect(failures).to.deep.equal(["transient", "transient"]);
      expect(s.requests).to.have.length(3);
    });

    it("stops at once on a method the endpoint does not have", async function () {
      const s = await endpoint(() => jsonRpcError(-32601, "the method eth_chainId does not exist/is not available"));
      const { client, failures } = rpc(s.url);
      const err = await client.chainId().catch((e: unknown) => e);
      expect(err).to.be.instanceOf(RpcRequestRejectedError);
      expect(failures).to.deep.equal(["fatal"]);
      expect(s.requests).to.have.length(1);
    });

    it("hands a refused range back to the caller instead of repeating it", async function () {
      const s = await endpoint(() => jsonRpcError(-32005, "query returned more than 10000 results"));
      const { client, failures } = rpc(s.url);
      const err = await client.getLogs("0x00000000000000000000000000000000000000cc", 1n, 50n).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(RpcRangeTooLargeError);
      expect(failures).to.deep.equal(["range"]);
      expect(s.requests).to.have.length(1);
    });
  });
});
