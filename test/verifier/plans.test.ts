import { expect } from "chai";
import type { Hex } from "viem";
import { heldBillerRole, type AnchoredPlan, type AnchorHistory, type RoleEvent } from "../../verifier/chain/anchor-history";
import { anchoredPlanFor } from "../../verifier/plans";

const BILLER: Hex = `0x${"aa".repeat(20)}`;
const OTHER: Hex = `0x${"bb".repeat(20)}`;
const hash = (n: number): Hex => `0x${n.toString(16).padStart(64, "0")}`;
const plan = (n: number, blockNumber: bigint, timestamp: number, effectiveFrom: number, biller = BILLER): AnchoredPlan => ({
  planHash: hash(n),
  blockNumber,
  logIndex: 0,
  timestamp,
  effectiveFrom,
  biller,
});
const granted = (account: Hex, blockNumber: bigint, granted = true): RoleEvent => ({ account, blockNumber, logIndex: 0, granted });
const history = (plans: AnchoredPlan[], billerRole: RoleEvent[] = [granted(BILLER, 1n)]): AnchorHistory => ({ documents: [], plans, billerRole });

describe("verifier/plans: which anchored plan prices a period", function () {
  it("takes the latest effectiveFrom at or before the period's start", function () {
    const h = history([plan(1, 2n, 100, 1000), plan(2, 3n, 110, 2000), plan(3, 4n, 120, 3000)]);
    expect(anchoredPlanFor(h, 2000).plan?.planHash).to.equal(hash(2));
    expect(anchoredPlanFor(h, 2999).plan?.planHash).to.equal(hash(2));
    expect(anchoredPlanFor(h, 999).plan).to.equal(null);
  });

  it("of two anchors with the same effectiveFrom, the later one counts", function () {
    const h = history([plan(1, 2n, 100, 1000), plan(2, 5n, 150, 1000)]);
    expect(anchoredPlanFor(h, 1000).plan?.planHash).to.equal(hash(2));
  });

  it("ignores anchors made when the version was already in effect, or by an account without BILLER_ROLE", function () {
    const h = history([plan(1, 2n, 100, 1000), plan(2, 6n, 1500, 1200), plan(3, 7n, 160, 1300, OTHER)]);
    const choice = anchoredPlanFor(h, 2000);
    expect(choice.plan?.planHash).to.equal(hash(1));
    expect(choice.ignored.join("\n")).to.match(/not before it took effect[\s\S]*did not hold BILLER_ROLE/);
  });
});

describe("verifier/chain/anchor-history: who held BILLER_ROLE when", function () {
  it("follows grants and revocations in chain order; an anchor counts at its own position", function () {
    const h = history([], [granted(BILLER, 10n), granted(BILLER, 20n, false), granted(BILLER, 30n)]);
    expect(heldBillerRole(h, BILLER, { blockNumber: 9n, logIndex: 0 })).to.equal(false);
    expect(heldBillerRole(h, BILLER, { blockNumber: 10n, logIndex: 1 })).to.equal(true);
    expect(heldBillerRole(h, BILLER, { blockNumber: 25n, logIndex: 0 })).to.equal(false);
    expect(heldBillerRole(h, BILLER, { blockNumber: 31n, logIndex: 0 })).to.equal(true);
    expect(heldBillerRole(h, OTHER, { blockNumber: 31n, logIndex: 0 })).to.equal(false);
  });
});
