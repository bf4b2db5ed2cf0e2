import { expect } from "chai";
import { createHmac, randomBytes } from "node:crypto";
import { stringToBytes, stringToHex } from "viem";
import { hmacSha256, keyedNaming, plainNaming } from "../../verifier/naming";

describe("verifier/naming: how a tenant name becomes its on-chain name", function () {
  it("plain names are the UTF-8 bytes, zero-padded to 32, and must fit", function () {
    expect(plainNaming.onchainName("tenant-1")).to.equal(stringToHex("tenant-1", { size: 32 }));
    expect(plainNaming.onchainName("ü".repeat(16))).to.equal(stringToHex("ü".repeat(16), { size: 32 }));
    expect(() => plainNaming.onchainName("x".repeat(33))).to.throw(/1 to 32 bytes/);
    expect(() => plainNaming.onchainName("")).to.throw(/1 to 32 bytes/);
  });

  it("HMAC-SHA256 over viem's SHA-256 equals node:crypto's, for short, block-sized and long keys", function () {
    for (const keyLength of [16, 32, 64, 65, 200]) {
      const key = randomBytes(keyLength);
      for (const message of ["", "tenant-1", "a".repeat(300)]) {
        const expected = `0x${createHmac("sha256", key).update(message).digest("hex")}`;
        expect(hmacSha256(key, stringToBytes(message)), `key ${keyLength}, message ${message.length}`).to.equal(expected);
      }
    }
  });

  it("keyed names are HMAC-SHA256(key, name); the key must be at least 16 bytes and is never shown", function () {
    const key = randomBytes(32);
    const naming = keyedNaming(key);
    expect(naming.onchainName("acme")).to.equal(`0x${createHmac("sha256", key).update("acme").digest("hex")}`);
    expect(naming.scheme).to.not.include(key.toString("hex"));
    expect(() => keyedNaming(randomBytes(8))).to.throw(/at least 16 bytes/);
  });
});
