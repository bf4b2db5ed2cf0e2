import { expect } from "chai";
import hre from "hardhat";
import { runChaos } from "./helpers/chaos";

describe("indexer: crash safety (SIGKILL at random moments, short chaos run)", function () {
  it("loses and duplicates nothing across kills, restarts and reorgs", async function () {
    const r = await runChaos(hre, { kills: 6, historyRounds: 15 });
    expect(r.problems).to.deep.equal([]);
    expect(r.kills).to.equal(6);
    expect(r.records).to.be.greaterThan(0);
    expect({ lost: r.lost, duplicated: r.duplicated }).to.deep.equal({ lost: 0, duplicated: 0 });
  });
});
