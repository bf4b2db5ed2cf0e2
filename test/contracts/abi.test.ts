import { expect } from "chai";
import { readFileSync } from "node:fs";
import { ABI_MODULE, renderAbiModule } from "../../scripts/build/gen-abi";

describe("UsageMeter ABI module", function () {
  it("chain/abi.generated.ts matches the compiled contract (run `npm run build`)", function () {
    expect(readFileSync(ABI_MODULE, "utf8")).to.equal(renderAbiModule());
  });
});
