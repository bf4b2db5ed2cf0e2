import { expect } from "chai";
import { readFileSync } from "node:fs";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { InvoiceAnchor__factory, type InvoiceAnchor } from "../../scripts/typechain-types";
import { ADMIN_DELAY, DEFAULT_ADMIN_ROLE, PAUSER_ROLE, deployMeter } from "./fixtures";

const BILLER_ROLE = ethers.id("BILLER_ROLE");
const ZERO = ethers.ZeroHash;
const INVOICE = 0;
const CREDIT_NOTE = 1;
const TENANT = 1;
const OTHER_TENANT = 2;
const HOUR = 3600;

/** Errors of the ABI no call can raise, with the reason; every other one is asserted by name below. */
const UNREACHABLE: Record<string, string> = {
  SafeCastOverflowedUintDowncast: "SafeCast of block.timestamp to uint48 (admin rules), out of reach for ~8.9 million years",
};

const h = (label: string) => ethers.id(label);

async function anchorFixture() {
  const [admin, biller, pauser, outsider, newAdmin] = (await ethers.getSigners()) as HardhatEthersSigner[] as [
    HardhatEthersSigner,
    HardhatEthersSigner,
    HardhatEthersSigner,
    HardhatEthersSigner,
    HardhatEthersSigner,
  ];
  const meter = await deployMeter(admin.address);
  const anchor = (await new InvoiceAnchor__factory(admin).deploy(ADMIN_DELAY, admin.address, await meter.getAddress())) as InvoiceAnchor;
  await anchor.waitForDeployment();
  await anchor.grantRole(BILLER_ROLE, biller.address);
  await anchor.grantRole(PAUSER_ROLE, pauser.address);
  const now = await time.latest();
  // A month that has ended: documents of it can be anchored.
  const period = { start: now - 31 * 24 * HOUR, end: now - HOUR };
  return { anchor, meter, admin, biller, pauser, outsider, newAdmin, period, asBiller: anchor.connect(biller) };
}

type Fixture = Awaited<ReturnType<typeof anchorFixture>>;

function anchorDoc(f: Fixture, hash: string, previous: string, opts: { tenant?: number; kind?: number; number?: number } = {}) {
  return f.asBiller.anchorDocument(opts.tenant ?? TENANT, opts.kind ?? INVOICE, opts.number ?? 1, f.period.start, f.period.end, hash, previous);
}

describe("InvoiceAnchor", function () {
  describe("construction and roles", function () {
    it("stores the UsageMeter, the admin and its delay, and exposes the role ids", async function () {
      const { anchor, meter, admin } = await loadFixture(anchorFixture);
      expect(await anchor.usageMeter()).to.equal(await meter.getAddress());
      expect(await anchor.defaultAdmin()).to.equal(admin.address);
      expect(await anchor.defaultAdminDelay()).to.equal(ADMIN_DELAY);
      expect(await anchor.BILLER_ROLE()).to.equal(BILLER_ROLE);
      expect(await anchor.PAUSER_ROLE()).to.equal(PAUSER_ROLE);
      expect(await anchor.DEFAULT_ADMIN_ROLE()).to.equal(DEFAULT_ADMIN_ROLE);
      expect(await anchor.paused()).to.equal(false);
      expect(await anchor.lastDocument(TENANT)).to.equal(ZERO);
    });

    it("refuses a zero admin at deployment", async function () {
      const [admin] = await ethers.getSigners();
      const factory = new InvoiceAnchor__factory(admin!);
      await expect(factory.deploy(0, ethers.ZeroAddress, admin!.address))
        .to.be.revertedWithCustomError(factory, "AccessControlInvalidDefaultAdmin")
        .withArgs(ethers.ZeroAddress);
    });

    it("only the admin grants and revokes BILLER_ROLE; a revoked biller can no longer anchor", async function () {
      const f = await loadFixture(anchorFixture);
      const { anchor, admin, biller, outsider } = f;
      await expect(anchor.connect(outsider).grantRole(BILLER_ROLE, outsider.address))
        .to.be.revertedWithCustomError(anchor, "AccessControlUnauthorizedAccount")
        .withArgs(outsider.address, DEFAULT_ADMIN_ROLE);
      await expect(anchor.connect(admin).revokeRole(BILLER_ROLE, biller.address))
        .to.emit(anchor, "RoleRevoked")
        .withArgs(BILLER_ROLE, biller.address, admin.address);
      await expect(anchorDoc(f, h("doc-1"), ZERO))
        .to.be.revertedWithCustomError(anchor, "AccessControlUnauthorizedAccount")
        .withArgs(biller.address, BILLER_ROLE);
    });

    it("an account without BILLER_ROLE (even the admin or a pauser) cannot anchor", async function () {
      const f = await loadFixture(anchorFixture);
      const { anchor, admin, pauser, outsider, period } = f;
      const future = (await time.latest()) + 10 * HOUR;
      for (const who of [admin, pauser, outsider]) {
        await expect(anchor.connect(who).anchorPlan(TENANT, h("plan"), future))
          .to.be.revertedWithCustomError(anchor, "AccessControlUnauthorizedAccount")
          .withArgs(who.address, BILLER_ROLE);
        await expect(anchor.connect(who).anchorDocument(TENANT, INVOICE, 1, period.start, period.end, h("doc"), ZERO))
          .to.be.revertedWithCustomError(anchor, "AccessControlUnauthorizedAccount")
          .withArgs(who.address, BILLER_ROLE);
      }
    });

    it("renouncing needs the caller's own address; the admin role moves only through the delayed transfer", async function () {
      const { anchor, admin, biller, newAdmin } = await loadFixture(anchorFixture);
      await expect(anchor.connect(biller).renounceRole(BILLER_ROLE, admin.address)).to.be.revertedWithCustomError(anchor, "AccessControlBadConfirmation");
      const grantAdmin = anchor.connect(admin).grantRole(DEFAULT_ADMIN_ROLE, newAdmin.address);
      await expect(grantAdmin).to.be.revertedWithCustomError(anchor, "AccessControlEnforcedDefaultAdminRules");
      await anchor.connect(admin).beginDefaultAdminTransfer(newAdmin.address);
      const [, schedule] = await anchor.pendingDefaultAdmin();
      await expect(anchor.connect(newAdmin).acceptDefaultAdminTransfer())
        .to.be.revertedWithCustomError(anchor, "AccessControlEnforcedDefaultAdminDelay")
        .withArgs(schedule);
      await time.increaseTo(schedule + 1n);
      await expect(anchor.connect(admin).acceptDefaultAdminTransfer())
        .to.be.revertedWithCustomError(anchor, "AccessControlInvalidDefaultAdmin")
        .withArgs(admin.address);
      await anchor.connect(newAdmin).acceptDefaultAdminTransfer();
      expect(await anchor.defaultAdmin()).to.equal(newAdmin.address);
      await expect(anchor.connect(biller).renounceRole(BILLER_ROLE, biller.address))
        .to.emit(anchor, "RoleRevoked")
        .withArgs(BILLER_ROLE, biller.address, biller.address);
    });
  });

  describe("pause", function () {
    it("a pauser pauses, anchoring stops, only the admin unpauses, anchoring resumes", async function () {
      const f = await loadFixture(anchorFixture);
      const { anchor, admin, pauser, outsider } = f;
      await expect(anchor.connect(outsider).pause())
        .to.be.revertedWithCustomError(anchor, "AccessControlUnauthorizedAccount")
        .withArgs(outsider.address, PAUSER_ROLE);
      await expect(anchor.connect(admin).pause())
        .to.be.revertedWithCustomError(anchor, "AccessControlUnauthorizedAccount")
        .withArgs(admin.address, PAUSER_ROLE);
      await expect(anchor.connect(pauser).pause()).to.emit(anchor, "Paused").withArgs(pauser.address);
      expect(await anchor.paused()).to.equal(true);
      await expect(anchor.connect(pauser).pause()).to.be.revertedWithCustomError(anchor, "EnforcedPause");

      const future = (await time.latest()) + 10 * HOUR;
      await expect(f.asBiller.anchorPlan(TENANT, h("plan"), future)).to.be.revertedWithCustomError(anchor, "EnforcedPause");
      await expect(anchorDoc(f, h("doc-1"), ZERO)).to.be.revertedWithCustomError(anchor, "EnforcedPause");

      await expect(anchor.connect(pauser).unpause())
        .to.be.revertedWithCustomError(anchor, "AccessControlUnauthorizedAccount")
        .withArgs(pauser.address, DEFAULT_ADMIN_ROLE);
      await expect(anchor.connect(admin).unpause()).to.emit(anchor, "Unpaused").withArgs(admin.address);
      await expect(anchor.connect(admin).unpause()).to.be.revertedWithCustomError(anchor, "ExpectedPause");
      await expect(anchorDoc(f, h("doc-1"), ZERO)).to.emit(anchor, "DocumentAnchored");
      expect(await anchor.lastDocument(TENANT)).to.equal(h("doc-1"));
    });
  });

  describe("anchorPlan", function () {
    it("emits PlanAnchored with every field for a version that takes effect later", async function () {
      const { anchor, asBiller, biller } = await loadFixture(anchorFixture);
      const effectiveFrom = (await time.latest()) + 24 * HOUR;
      await expect(asBiller.anchorPlan(TENANT, h("plan-v1"), effectiveFrom))
        .to.emit(anchor, "PlanAnchored")
        .withArgs(TENANT, h("plan-v1"), biller.address, effectiveFrom);
    });

    it("refuses a version taking effect now or in the past (PlanNotInFuture), and a zero hash", async function () {
      const { anchor, asBiller } = await loadFixture(anchorFixture);
      const next = (await time.latest()) + 1;
      await time.setNextBlockTimestamp(next);
      await expect(asBiller.anchorPlan(TENANT, h("plan"), next))
        .to.be.revertedWithCustomError(anchor, "PlanNotInFuture")
        .withArgs(next, next);
      const past = next - 3600;
      await time.setNextBlockTimestamp(next + 1);
      await expect(asBiller.anchorPlan(TENANT, h("plan"), past))
        .to.be.revertedWithCustomError(anchor, "PlanNotInFuture")
        .withArgs(past, next + 1);
      await time.setNextBlockTimestamp(next + 2);
      await expect(asBiller.anchorPlan(TENANT, h("plan"), next + 3)).to.emit(anchor, "PlanAnchored");
      await expect(asBiller.anchorPlan(TENANT, ZERO, next + 3600)).to.be.revertedWithCustomError(anchor, "ZeroHash");
    });
  });

  describe("anchorDocument", function () {
    it("emits DocumentAnchored with every field and moves the tenant's head", async function () {
      const f = await loadFixture(anchorFixture);
      const { anchor, asBiller, biller, period } = f;
      await expect(asBiller.anchorDocument(TENANT, INVOICE, 7, period.start, period.end, h("inv-7"), ZERO))
        .to.emit(anchor, "DocumentAnchored")
        .withArgs(TENANT, h("inv-7"), ZERO, INVOICE, 7, period.start, period.end, biller.address);
      expect(await anchor.lastDocument(TENANT)).to.equal(h("inv-7"));
      await expect(asBiller.anchorDocument(TENANT, CREDIT_NOTE, 1, period.start, period.end, h("cn-1"), h("inv-7")))
        .to.emit(anchor, "DocumentAnchored")
        .withArgs(TENANT, h("cn-1"), h("inv-7"), CREDIT_NOTE, 1, period.start, period.end, biller.address);
      expect(await anchor.lastDocument(TENANT)).to.equal(h("cn-1"));
    });

    it("keeps one chain per tenant", async function () {
      const f = await loadFixture(anchorFixture);
      await anchorDoc(f, h("a-1"), ZERO);
      await anchorDoc(f, h("b-1"), ZERO, { tenant: OTHER_TENANT });
      await anchorDoc(f, h("a-2"), h("a-1"), { number: 2 });
      expect(await f.anchor.lastDocument(TENANT)).to.equal(h("a-2"));
      expect(await f.anchor.lastDocument(OTHER_TENANT)).to.equal(h("b-1"));
      // tenant 2's head is no previous hash for tenant 1.
      await expect(anchorDoc(f, h("a-3"), h("b-1"), { number: 3 }))
        .to.be.revertedWithCustomError(f.anchor, "NotChainHead")
        .withArgs(TENANT, h("a-2"), h("b-1"));
    });

    it("refuses a wrong previous hash: no fork after an anchored document, no insertion before the head", async function () {
      const f = await loadFixture(anchorFixture);
      const { anchor } = f;
      // The first document must name zero as previous.
      await expect(anchorDoc(f, h("d-1"), h("made-up")))
        .to.be.revertedWithCustomError(anchor, "NotChainHead")
        .withArgs(TENANT, ZERO, h("made-up"));
      await anchorDoc(f, h("d-1"), ZERO);
      // A second "first" document would fork the chain at its root.
      await expect(anchorDoc(f, h("fork-1"), ZERO))
        .to.be.revertedWithCustomError(anchor, "NotChainHead")
        .withArgs(TENANT, h("d-1"), ZERO);
      await anchorDoc(f, h("d-2"), h("d-1"), { number: 2 });
      // A document after d-1 (now that d-2 follows it) would fork at d-1.
      await expect(anchorDoc(f, h("fork-2"), h("d-1"), { number: 2 }))
        .to.be.revertedWithCustomError(anchor, "NotChainHead")
        .withArgs(TENANT, h("d-2"), h("d-1"));
      expect(await anchor.lastDocument(TENANT)).to.equal(h("d-2"));
    });

    it("refuses a zero content hash, an empty or inverted period, and a period that has not ended", async function () {
      const f = await loadFixture(anchorFixture);
      const { anchor, asBiller, period } = f;
      await expect(asBiller.anchorDocument(TENANT, INVOICE, 1, period.start, period.end, ZERO, ZERO)).to.be.revertedWithCustomError(anchor, "ZeroHash");
      await expect(asBiller.anchorDocument(TENANT, INVOICE, 1, period.end, period.end, h("d"), ZERO))
        .to.be.revertedWithCustomError(anchor, "InvalidPeriod")
        .withArgs(period.end, period.end);
      await expect(asBiller.anchorDocument(TENANT, INVOICE, 1, period.end, period.start, h("d"), ZERO))
        .to.be.revertedWithCustomError(anchor, "InvalidPeriod")
        .withArgs(period.end, period.start);
      const now = await time.latest();
      const end = now + 2 * HOUR;
      await time.setNextBlockTimestamp(now + 1);
      await expect(asBiller.anchorDocument(TENANT, INVOICE, 1, now - HOUR, end, h("d"), ZERO))
        .to.be.revertedWithCustomError(anchor, "PeriodNotEnded")
        .withArgs(end, now + 1);
      // At the period's end exactly, the period has ended (periodEnd is exclusive).
      await time.setNextBlockTimestamp(end);
      await expect(asBiller.anchorDocument(TENANT, INVOICE, 1, now - HOUR, end, h("d"), ZERO)).to.emit(anchor, "DocumentAnchored");
      expect(await anchor.lastDocument(TENANT)).to.equal(h("d"));
    });
  });

  it("every custom error in the ABI is asserted by name in this file (or listed as unreachable with a reason)", function () {
    const source = readFileSync(__filename, "utf8");
    const errors: string[] = InvoiceAnchor__factory.abi.filter((item) => item.type === "error").map((item) => item.name);
    const untested = errors.filter((name: string) => !(name in UNREACHABLE) && !source.includes(`revertedWithCustomError(anchor, "${name}")`) && !source.includes(`revertedWithCustomError(factory, "${name}")`));
    expect(untested).to.deep.equal([]);
    expect(Object.keys(UNREACHABLE).filter((name) => !errors.includes(name))).to.deep.equal([]);
  });
});
