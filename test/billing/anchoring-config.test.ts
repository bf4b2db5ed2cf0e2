import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { inspect } from "node:util";
import { encryptKeystoreJsonSync, Wallet } from "ethers";
import { billingConfigFromEnv, BillingConfigError } from "../../billing/config";
import { openSigner, SignerKeyError } from "../../billing/anchoring/signer";

const KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const base = { DATABASE_URL: "postgres://localhost/x" };

describe("billing anchoring configuration", function () {
  it("anchoring is off without a signer, on with a key and an RPC URL", function () {
    expect(billingConfigFromEnv(base).anchoring).to.equal(null);
    const c = billingConfigFromEnv({ ...base, BILLING_SIGNER_KEY: KEY, RPC_URL: "http://127.0.0.1:8545", CONFIRMATIONS: "7" }).anchoring!;
    expect(c.rpcUrl).to.equal("http://127.0.0.1:8545");
    expect(c.confirmations).to.equal(7);
    expect(c.receiptTimeoutMs).to.equal(5_000);
    expect(openSigner(c.signer).address).to.equal(new Wallet(KEY).address);
    const own = billingConfigFromEnv({ ...base, BILLING_SIGNER_KEY: KEY, RPC_URL: "http://x:1", ANCHOR_CONFIRMATIONS: "2", ANCHOR_ADDRESS: "0x000000000000000000000000000000000000beef" }).anchoring!;
    expect([own.confirmations, own.anchorAddress]).to.deep.equal([2, "0x000000000000000000000000000000000000bEEF"]);
  });

  it("never shows the key or the keystore password: not in JSON, inspect or string form", function () {
    const config = billingConfigFromEnv({ ...base, BILLING_SIGNER_KEY: KEY, RPC_URL: "http://127.0.0.1:8545" });
    for (const text of [JSON.stringify(config), inspect(config, { depth: 10 }), String((config.anchoring!.signer as { key: unknown }).key)]) {
      expect(text).to.not.contain(KEY.slice(2));
    }
    const ks = billingConfigFromEnv({ ...base, BILLING_SIGNER_KEYSTORE: "/k.json", BILLING_SIGNER_PASSWORD: "hunter2-secret", RPC_URL: "http://x:1" });
    expect(JSON.stringify(ks) + inspect(ks, { depth: 10 })).to.not.contain("hunter2-secret");
  });

  for (const [what, env, message] of [
    ["a malformed key", { BILLING_SIGNER_KEY: "0x1234", RPC_URL: "http://x:1" }, "BILLING_SIGNER_KEY: expected a 0x-prefixed 32-byte hex private key"],
    ["a key without RPC_URL", { BILLING_SIGNER_KEY: KEY }, "RPC_URL: required when a billing signer is configured (anchors are sent there)"],
    ["both a key and a keystore", { BILLING_SIGNER_KEY: KEY, BILLING_SIGNER_KEYSTORE: "/k.json", RPC_URL: "http://x:1" }, "BILLING_SIGNER_KEYSTORE: set either BILLING_SIGNER_KEY or a keystore, not both"],
    ["a keystore without password", { BILLING_SIGNER_KEYSTORE: "/k.json", RPC_URL: "http://x:1" }, "BILLING_SIGNER_PASSWORD: required with BILLING_SIGNER_KEYSTORE"],
    ["a bad anchor address", { BILLING_SIGNER_KEY: KEY, RPC_URL: "http://x:1", ANCHOR_ADDRESS: "anchor" }, "ANCHOR_ADDRESS: expected a 0x-prefixed 20-byte address"],
    ["bad confirmations", { BILLING_SIGNER_KEY: KEY, RPC_URL: "http://x:1", ANCHOR_CONFIRMATIONS: "-1" }, "ANCHOR_CONFIRMATIONS: expected a non-negative integer"],
  ] as Array<[string, Record<string, string>, string]>) {
    it(`refuses ${what} with one line naming the variable (and not its value)`, function () {
      let error: unknown;
      try {
        billingConfigFromEnv({ ...base, ...env });
      } catch (err) {
        error = err;
      }
      expect(error).to.be.instanceOf(BillingConfigError);
      expect((error as Error).message).to.equal(message);
    });
  }

  it("opens a V3 keystore with its password; a wrong password is refused by name", function () {
    const dir = mkdtempSync(path.join(tmpdir(), "meterline-keystore-"));
    try {
      const wallet = new Wallet(KEY);
      const file = path.join(dir, "biller.json");
      writeFileSync(file, encryptKeystoreJsonSync({ address: wallet.address, privateKey: KEY }, "correct horse", { scrypt: { N: 1024 } }));
      const config = billingConfigFromEnv({ ...base, BILLING_SIGNER_KEYSTORE: file, BILLING_SIGNER_PASSWORD: "correct horse", RPC_URL: "http://x:1" }).anchoring!;
      expect(openSigner(config.signer).address).to.equal(wallet.address);
      const wrong = billingConfigFromEnv({ ...base, BILLING_SIGNER_KEYSTORE: file, BILLING_SIGNER_PASSWORD: "wrong", RPC_URL: "http://x:1" }).anchoring!;
      expect(() => openSigner(wrong.signer)).to.throw(SignerKeyError, `BILLING_SIGNER_PASSWORD: does not open ${file} (MAC mismatch)`);
      const missing = billingConfigFromEnv({ ...base, BILLING_SIGNER_KEYSTORE: path.join(dir, "none.json"), BILLING_SIGNER_PASSWORD: "x", RPC_URL: "http://x:1" }).anchoring!;
      expect(() => openSigner(missing.signer)).to.throw(SignerKeyError, /^BILLING_SIGNER_KEYSTORE: cannot read .*none\.json \(ENOENT\)$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
