import { expect } from "chai";
import { readFileSync } from "node:fs";
import { ABI_MODULE, renderAbiModule } from "../../scripts/cli/gen-abi";

describe("UsageMeter ABI module", function () {
  it("scripts/lib/usage-meter-abi.ts matches the compiled contract (run `npm run build`)", function () {
    expect(readFileSync(ABI_MODULE, "utf8")).to.equal(renderAbiModule());
  });
});
