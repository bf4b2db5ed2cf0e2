import { expect } from "chai";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseIndexerConfig } from "../../indexer/config";
import { ConfigError } from "../../indexer/errors";
import { decodeRecords } from "../../chain/events";
import { decodeAbiParameters, encodeAbiParameters, toHex } from "viem";
import { encodeRecordWord, decodeRecordWord } from "../../chain/record";

const base = {
  RPC_URL: "http://127.0.0.1:8545",
  CHAIN_ID: "31337",
  CONTRACT_ADDRESS: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
  DEPLOY_BLOCK: "7",
  DEPLOYMENTS_DIR: "/nonexistent",
};

function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    parseIndexerConfig(env);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("indexer: configuration and decoding", function () {
  it("applies defaults and checksums the address", function () {
    const c = parseIndexerConfig(base);
    expect(c.contractAddress).to.equal("0x5FbDB2315678afecb367f032d93F642f64180aa3");
    expect(c.deployBlock).to.equal(7n);
    expect(c).to.include({ wsRpcUrl: null, confirmations: 12, pollIntervalMs: 500, reorgWindow: 128, maxBlockRange: 5000, fetchConcurrency: 4, metricsPort: 9464 });
    expect(c.database.kind).to.equal("pglite");
    expect(parseIndexerConfig({ ...base, DATABASE_URL: "postgres://x@h/db", METRICS_PORT: "off" })).to.include({ metricsPort: null });
    expect(parseIndexerConfig({ ...base, WS_RPC_URL: "wss://node.example/ws" })).to.include({ wsRpcUrl: "wss://node.example/ws" });
    expect(parseIndexerConfig({ ...base, WS_RPC_URL: "" })).to.include({ wsRpcUrl: null });
  });

  it("rejects a bad setting with a one-line message naming the variable", function () {
    const cases: [Record<string, string | undefined>, string][] = [
      [{ ...base, RPC_URL: undefined }, "RPC_URL"],
      [{ ...base, RPC_URL: "ftp://x" }, "RPC_URL"],
      [{ ...base, WS_RPC_URL: "http://127.0.0.1:8545" }, "WS_RPC_URL"],
      [{ ...base, WS_RPC_URL: "not a url" }, "WS_RPC_URL"],
      [{ ...base, WS_RPC_URL: "ws://" }, "WS_RPC_URL"],
      [{ ...base, CHAIN_ID: "abc" }, "CHAIN_ID"],
      [{ ...base, CONTRACT_ADDRESS: "0x1234" }, "CONTRACT_ADDRESS"],
      [{ ...base, CONTRACT_ADDRESS: undefined }, "CONTRACT_ADDRESS"],
      [{ ...base, DEPLOY_BLOCK: "-1" }, "DEPLOY_BLOCK"],
      [{ ...base, CONFIRMATIONS: "x" }, "CONFIRMATIONS"],
      [{ ...base, CONFIRMATIONS: "500" }, "CONFIRMATIONS"],
      [{ ...base, FETCH_CONCURRENCY: "0" }, "FETCH_CONCURRENCY"],
      [{ ...base, METRICS_PORT: "99999" }, "METRICS_PORT"],
      [{ ...base, DATABASE_URL: "mysql://x" }, "DATABASE_URL"],
      [{ ...base, LOG_LEVEL: "loud" }, "LOG_LEVEL"],
    ];
    for (const [env, variable] of cases) {
      const err = configError(env);
      expect(err.variable, JSON.stringify(env)).to.equal(variable);
      expect(err.message.startsWith(`${variable}: `)).to.equal(true);
      expect(err.message).to.not.include("\n");
    }
  });

  it("reads the address and deploy block from deployments/<chainId>.json", async function () {
    const dir = await mkdtemp(path.join(os.tmpdir(), "meterline-deployments-"));
    try {
      await writeFile(
        path.join(dir, "31337.json"),
        JSON.stringify({
          chainId: 31337,
          contract: "UsageMeter",
          address: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
          deployBlock: 42,
          deployBlockHash: `0x${"11".repeat(32)}`,
          txHash: `0x${"22".repeat(32)}`,
          constructorArgs: { adminDelay: 0, admin: "0x0000000000000000000000000000000000000001", minRevealDelay: 1, maxRevealDelay: 10 },
          abiHash: `0x${"33".repeat(32)}`,
        }),
      );
      const env = { RPC_URL: base.RPC_URL, CHAIN_ID: "31337", DEPLOYMENTS_DIR: dir };
      const c = parseIndexerConfig(env);
      expect(c.deployBlock).to.equal(42n);
      expect(c.deploymentFile).to.equal(path.join(dir, "31337.json"));
      expect(parseIndexerConfig({ ...env, DEPLOY_BLOCK: "50" }).deployBlock).to.equal(50n);
      await writeFile(path.join(dir, "31337.json"), "{not json");
      expect(configError(env).variable).to.equal("DEPLOYMENTS_DIR");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("the fast UsageRevealed decoder agrees with viem's ABI decoder", function () {
    const params = [{ type: "tuple[]", components: [{ name: "packed", type: "uint256" }, { name: "ref", type: "bytes32" }] }] as const;
    for (const n of [1, 2, 17, 500]) {
      const records = Array.from({ length: n }, (_, i) => ({
        packed: encodeRecordWord({ meterId: 1 + (i % 7), periodStart: 1_700_000_000 + i, periodEnd: 1_700_000_060 + i, sequence: BigInt(i + 1), quantity: (1n << 79n) + BigInt(i) }),
        ref: toHex(BigInt(i) * 977n, { size: 32 }),
      }));
      const data = encodeAbiParameters(params, [records]);
      const [viaViem] = decodeAbiParameters(params, data);
      expect(decodeRecords(data)).to.deep.equal(viaViem.map((r) => ({ ...decodeRecordWord(r.packed), ref: r.ref })));
    }
  });
});
