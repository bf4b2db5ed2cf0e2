import { expect } from "chai";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { UsageMeter__factory } from "../../scripts/typechain-types";

/**
 * Errors in the ABI that no call can raise, with the reason. Everything else must be asserted by
 * name (revertedWithCustomError) somewhere in test/contracts, so a new error can't go untested.
 */
const UNREACHABLE: Record<string, string> = {
  AddressEmptyCode: "Multicall only delegatecalls into this contract, which has code",
  InvalidAccountNonce: "only Nonces._useCheckedNonce raises it; commitWithSignature uses _useNonce",
  InvalidShortString: "EIP712 name/version are constants that fit a short string",
  StringTooLong: "EIP712 name/version are constants that fit a short string",
  SafeCastOverflowedUintDowncast: "SafeCast of block.timestamp to uint48, out of reach for ~8.9 million years",
};

describe("UsageMeter custom errors", function () {
  it("every custom error in the ABI is asserted by a test (or listed as unreachable with a reason)", function () {
    const dir = __dirname;
    const sources = readdirSync(dir)
      .filter((f) => f.endsWith(".test.ts") && f !== path.basename(__filename))
      .map((f) => readFileSync(path.join(dir, f), "utf8"))
      .join("\n");
    const errors: string[] = UsageMeter__factory.abi.filter((item) => item.type === "error").map((item) => item.name);
    const untested = errors.filter((name) => !(name in UNREACHABLE) && !sources.includes(`"${name}"`));
    expect(untested).to.deep.equal([]);
    const stale = Object.keys(UNREACHABLE).filter((name) => !errors.includes(name));
    expect(stale).to.deep.equal([]);
  });
});
