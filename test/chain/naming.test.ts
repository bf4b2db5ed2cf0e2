import { expect } from "chai";
import { createHmac, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { stringToHex } from "viem";
import { readNameKey } from "../../chain/name-key";
import { keyedNaming, NamingError, parseNameKey, plainNaming } from "../../chain/naming";

describe("chain/naming: tenant and meter names on chain", function () {
  it("keyed: tenant = HMAC-SHA256(key, name), meter = HMAC-SHA256(key, \"meter:\" + name); plaintext never appears", function () {
    const key = randomBytes(32);
    const naming = keyedNaming(key);
    const hmac = (m: string) => `0x${createHmac("sha256", key).update(m).digest("hex")}`;
    expect(naming.onchainName("acme")).to.equal(hmac("acme"));
    expect(naming.onchainMeterName("api_calls")).to.equal(hmac("meter:api_calls"));
    // Domain separation: a meter and a tenant of the same text get unrelated names.
    expect(naming.onchainMeterName("acme")).to.not.equal(naming.onchainName("acme"));
    // Another tenant's key gives an unrelated name for the same meter.
    expect(keyedNaming(randomBytes(32)).onchainMeterName("api_calls")).to.not.equal(naming.onchainMeterName("api_calls"));
    expect(naming.onchainName("acme")).to.not.include(stringToHex("acme").slice(2));
    expect(naming.keyed).to.equal(true);
    expect(() => naming.onchainMeterName("")).to.throw(NamingError, /meter name must not be empty/);
    expect(() => keyedNaming(randomBytes(15))).to.throw(NamingError, /at least 16 bytes/);
  });

  it("plain (explicit opt-in): the UTF-8 text zero-padded, for tenants and meters alike", function () {
    expect(plainNaming.keyed).to.equal(false);
    expect(plainNaming.onchainMeterName("api_calls")).to.equal(stringToHex("api_calls", { size: 32 }));
    expect(() => plainNaming.onchainMeterName("m".repeat(33))).to.throw(NamingError, /meter name .* 1 to 32 bytes/);
  });

  it("a key is 0x-hex or text; tools read it from env: or file:, refuse it on the command line, and never echo it", async function () {
    const hex = `0x${randomBytes(32).toString("hex")}`;
    expect(Buffer.from(parseNameKey(`${hex}\n`)).toString("hex")).to.equal(hex.slice(2));
    expect(Buffer.from(parseNameKey("a text key of some length")).toString()).to.equal("a text key of some length");

    const dir = await mkdtemp(path.join(tmpdir(), "meterline-name-key-"));
    try {
      await writeFile(path.join(dir, "k"), `${hex}\n`, { mode: 0o600 });
      expect(Buffer.from(await readNameKey(`file:${path.join(dir, "k")}`)).toString("hex")).to.equal(hex.slice(2));
      expect(Buffer.from(await readNameKey("env:K", { env: { K: hex } })).toString("hex")).to.equal(hex.slice(2));
      const refused = await readNameKey(hex).catch((e: unknown) => e as Error);
      expect(String(refused)).to.match(/--name-key: give env:<VARIABLE> or file:<path>, not the key itself/);
      expect(String(refused)).to.not.include(hex.slice(2));
      expect(Buffer.from(await readNameKey(hex, { allowLiteral: true })).toString("hex")).to.equal(hex.slice(2));
      expect(String(await readNameKey("env:MISSING", { env: {} }).catch((e: unknown) => e))).to.match(/--name-key: environment variable MISSING is not set/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
