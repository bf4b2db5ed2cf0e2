/**
 * The chain's latest block number from a JSON-RPC endpoint (eth_blockNumber), for /readyz's
 * indexer-lag check. A slow or failing endpoint rejects within `timeoutMs`: readiness then
 * reports not ready rather than hanging the probe.
 */
export function rpcChainHead(url: string, timeoutMs = 2000): () => Promise<bigint> {
  let id = 0;
  return async () => {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method: "eth_blockNumber", params: [] }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) throw new Error(`RPC_URL: HTTP ${res.status}`);
    const body = (await res.json()) as { result?: unknown };
    if (typeof body.result !== "string" || !/^0x[0-9a-fA-F]+$/.test(body.result)) throw new Error("RPC_URL: eth_blockNumber gave no block number");
    return BigInt(body.result);
  };
}
