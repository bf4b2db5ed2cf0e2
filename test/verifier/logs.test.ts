import { expect } from "chai";
import { toHex, type PublicClient } from "viem";
import type { RawLog } from "../../chain/events";
import { scanLogs } from "../../verifier/chain/logs";

/** A fake RPC holding one log per block, refusing ranges wider than `limit` blocks. */
function fakeClient(blocks: number, limit: number, failAt?: bigint) {
  const requests: Array<[bigint, bigint]> = [];
  const client = {
    async request({ params }: { params: [{ fromBlock: string; toBlock: string }] }) {
      const from = BigInt(params[0].fromBlock);
      const to = BigInt(params[0].toBlock);
      requests.push([from, to]);
      if (to - from + 1n > BigInt(limit)) throw new Error("query exceeds max block range");
      if (failAt !== undefined && from <= failAt && failAt <= to) throw new Error("internal error");
      const out: RawLog[] = [];
      // Returned newest first: the scan must put them in chain order.
      for (let b = to; b >= from && b < BigInt(blocks); b--) {
        out.push({ address: "0x00", topics: [], data: "0x", blockNumber: toHex(b), blockHash: "0x00", transactionHash: "0x00", logIndex: "0x0" });
      }
      return out;
    },
  };
  return { client: client as unknown as PublicClient, requests };
}

describe("verifier/chain/logs: eth_getLogs over any range", function () {
  it("halves the span on a provider's refusal, keeps the span that worked, and returns logs in chain order", async function () {
    const { client, requests } = fakeClient(1000, 100);
    const logs = await scanLogs(client, { address: "0x0000000000000000000000000000000000000001", topics: [], fromBlock: 0n, toBlock: 999n });
    expect(logs.map((l) => Number(BigInt(l.blockNumber)))).to.deep.equal([...Array(1000).keys()]);
    const accepted = requests.filter(([f, t]) => t - f + 1n <= 100n);
    expect(accepted.length).to.equal(Math.ceil(1000 / 63));
    expect(requests.length - accepted.length, "refusals before the span settled").to.equal(4);
  });

  it("honours a maximum range without asking for more", async function () {
    const { client, requests } = fakeClient(50, 10);
    const logs = await scanLogs(client, { address: "0x0000000000000000000000000000000000000001", topics: [], fromBlock: 0n, toBlock: 49n }, { maxRange: 10n });
    expect(logs).to.have.length(50);
    expect(requests).to.have.length(5);
  });

  it("gives up when a single block fails", async function () {
    const { client } = fakeClient(50, 100, 17n);
    const err = await scanLogs(client, { address: "0x0000000000000000000000000000000000000001", topics: [], fromBlock: 0n, toBlock: 49n }).catch((e: Error) => e);
    expect(String(err)).to.match(/internal error/);
  });
});
