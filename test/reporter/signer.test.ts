import { writeFile } from "node:fs/promises";
import path from "node:path";
import { expect } from "chai";
import { encryptKeystoreJson } from "ethers";
import { ReporterConfigError, loadAccount, parseReporterConfig } from "../../reporter";
import { hardhatAccount, hardhatKey, tempDir } from "./helpers";

describe("reporter signers and settings", function () {
  it("loads a JSON keystore with its password and never echoes key material on failure", async function () {
    const dir = await tempDir("keystore");
    const key = hardhatKey(8);
    const file = path.join(dir, "reporter.json");
    // Low scrypt cost keeps the test fast; the format is the standard Web3 Secret Storage v3.
    await writeFile(file, await encryptKeystoreJson({ address: hardhatAccount(8).address, privateKey: key }, "s3cret", { scrypt: { N: 1024 } }));

    const account = await loadAccount({ kind: "keystore", file, password: "s3cret" });
    expect(account.address).to.equal(hardhatAccount(8).address);

    let error: unknown;
    await loadAccount({ kind: "keystore", file, password: "wrong" }).catch((err: unknown) => (error = err));
    expect(error).to.be.instanceOf(ReporterConfigError);
    expect((error as Error).message).to.match(/METERLINE_REPORTER_KEYSTORE_PASSWORD/);
    expect((error as Error).message).to.not.contain(key.slice(2, 18));
  });

  it("names the variable when a setting is missing or malformed, without printing its value", function () {
    expect(() => parseReporterConfig({}, ["usage.jsonl"])).to.throw(ReporterConfigError, /METERLINE_REPORTER_KEY/);
    const bad = "0x1234-not-a-key";
    let error: unknown;
    try {
      parseReporterConfig({ METERLINE_REPORTER_KEY: bad }, ["usage.jsonl"]);
    } catch (err) {
      error = err;
    }
    expect((error as Error).message).to.match(/^METERLINE_REPORTER_KEY: /);
    expect((error as Error).message).to.not.contain(bad);
    expect(() => parseReporterConfig({ METERLINE_REPORTER_KEYSTORE: "k.json" }, ["u.csv"])).to.throw(/METERLINE_REPORTER_KEYSTORE_PASSWORD/);
    const config = parseReporterConfig({ METERLINE_REPORTER_KEY: hardhatKey(1), METERLINE_REPORTER_BATCH_SIZE: "50" }, ["u.csv", "--relay", "p.json"]);
    expect(config).to.include({ format: "csv", batchSize: 50, relayDeadlineSeconds: 86_400 });
    // No default RPC: the CLI resolves the running stack (or fails saying how to point it).
    expect(config.rpcUrl).to.equal(undefined);
    expect(parseReporterConfig({ METERLINE_REPORTER_KEY: hardhatKey(1), METERLINE_RPC_URL: "http://127.0.0.1:9999" }, ["u.csv"]).rpcUrl).to.equal("http://127.0.0.1:9999");
    expect(config.relayOut).to.match(/p\.json$/);
  });
});
