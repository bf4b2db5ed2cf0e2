import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { ethers } from "hardhat";
import { TENANT_A, TENANT_B, TENANT_MANAGER_ROLE, commitAndAge, meterFixture, name32, record } from "./fixtures";

describe("UsageMeter tenants, meters and reporters", function () {
  describe("registerTenant", function () {
    it("assigns compact ids from 1 and indexes them by name", async function () {
      const { meter, manager } = await loadFixture(meterFixture);
      await expect(meter.connect(manager).registerTenant(name32("initech")))
        .to.emit(meter, "TenantRegistered")
        .withArgs(3, name32("initech"));
      expect(await meter.tenantCount()).to.equal(3);
      expect(await meter.tenantIdByName(name32("initech"))).to.equal(3);
      expect(await meter.tenantIdByName(name32("acme"))).to.equal(TENANT_A);
      expect(await meter.tenantIdByName(name32("nobody"))).to.equal(0);
      const [tenantName, meterCount] = await meter.getTenant(3);
      expect([tenantName, meterCount]).to.deep.equal([name32("initech"), 0n]);
      // The return value is the id (seen by a static call, as an integrating contract would).
      expect(await meter.connect(manager).registerTenant.staticCall(name32("hooli"))).to.equal(4);
    });

    it("rejects the zero name and a taken name", async function () {
      const { meter, manager } = await loadFixture(meterFixture);
      await expect(meter.connect(manager).registerTenant(ethers.ZeroHash)).to.be.revertedWithCustomError(
        meter,
        "InvalidName",
      );
      await expect(meter.connect(manager).registerTenant(name32("globex")))
        .to.be.revertedWithCustomError(meter, "TenantNameTaken")
        .withArgs(name32("globex"), TENANT_B);
    });

    it("only a tenant manager may register (not even the default admin)", async function () {
      const { meter, admin, outsider } = await loadFixture(meterFixture);
      for (const caller of [admin, outsider]) {
        await expect(meter.connect(caller).registerTenant(name32("x")))
          .to.be.revertedWithCustomError(meter, "AccessControlUnauthorizedAccount")
          .withArgs(caller.address, TENANT_MANAGER_ROLE);
      }
    });
  });

  describe("registerMeter", function () {
    it("assigns per-tenant ids from 1; names are unique per tenant only", async function () {
      const { meter, manager } = await loadFixture(meterFixture);
      await expect(meter.connect(manager).registerMeter(TENANT_B, name32("storage")))
        .to.emit(meter, "MeterRegistered")
        .withArgs(TENANT_B, 2, name32("storage"));
      expect(await meter.meterIdByName(TENANT_B, name32("storage"))).to.equal(2);
      expect(await meter.meterIdByName(TENANT_A, name32("storage"))).to.equal(2);
      expect(await meter.meterIdByName(TENANT_A, name32("api-calls"))).to.equal(1);
      expect(await meter.meterIdByName(TENANT_A, name32("nothing"))).to.equal(0);
      expect((await meter.getTenant(TENANT_B)).meterCount).to.equal(2);
      expect(await meter.connect(manager).registerMeter.staticCall(TENANT_A, name32("egress"))).to.equal(3);
    });

    it("rejects an unknown tenant, the zero name and a taken name", async function () {
      const { meter, manager } = await loadFixture(meterFixture);
      const m = meter.connect(manager);
      for (const tenantId of [0, 3, 2 ** 32 - 1]) {
        await expect(m.registerMeter(tenantId, name32("x")))
          .to.be.revertedWithCustomError(meter, "UnknownTenant")
          .withArgs(tenantId);
      }
      await expect(m.registerMeter(TENANT_A, ethers.ZeroHash)).to.be.revertedWithCustomError(meter, "InvalidName");
      await expect(m.registerMeter(TENANT_A, name32("storage")))
        .to.be.revertedWithCustomError(meter, "MeterNameTaken")
        .withArgs(TENANT_A, name32("storage"), 2);
    });

    it("only a tenant manager may register a meter", async function () {
      const { meter, outsider } = await loadFixture(meterFixture);
      await expect(meter.connect(outsider).registerMeter(TENANT_A, name32("x")))
        .to.be.revertedWithCustomError(meter, "AccessControlUnauthorizedAccount")
        .withArgs(outsider.address, TENANT_MANAGER_ROLE);
    });
  });

  describe("authorizeReporter / revokeReporter", function () {
    it("authorizes per tenant and reports it through getReporter", async function () {
      const { meter, manager, reporter, outsider } = await loadFixture(meterFixture);
      expect(await meter.getReporter(TENANT_A, reporter.address)).to.deep.equal([true, 0n]);
      expect(await meter.getReporter(TENANT_B, reporter.address)).to.deep.equal([false, 0n]);
      await expect(meter.connect(manager).authorizeReporter(TENANT_B, outsider.address))
        .to.emit(meter, "ReporterAuthorized")
        .withArgs(TENANT_B, outsider.address);
      expect((await meter.getReporter(TENANT_B, outsider.address)).authorized).to.equal(true);
    });

    it("rejects an unknown tenant, the zero address and a double authorization", async function () {
      const { meter, manager, reporter } = await loadFixture(meterFixture);
      const m = meter.connect(manager);
      await expect(m.authorizeReporter(9, reporter.address))
        .to.be.revertedWithCustomError(meter, "UnknownTenant")
        .withArgs(9);
      await expect(m.authorizeReporter(TENANT_A, ethers.ZeroAddress))
        .to.be.revertedWithCustomError(meter, "InvalidReporter")
        .withArgs(ethers.ZeroAddress);
      await expect(m.authorizeReporter(TENANT_A, reporter.address))
        .to.be.revertedWithCustomError(meter, "ReporterAlreadyAuthorized")
        .withArgs(TENANT_A, reporter.address);
    });

    it("revokes, rejects revoking a reporter that is not authorized", async function () {
      const { meter, manager, reporter } = await loadFixture(meterFixture);
      const m = meter.connect(manager);
      await expect(m.revokeReporter(TENANT_A, reporter.address))
        .to.emit(meter, "ReporterRevoked")
        .withArgs(TENANT_A, reporter.address);
      expect((await meter.getReporter(TENANT_A, reporter.address)).authorized).to.equal(false);
      await expect(m.revokeReporter(TENANT_A, reporter.address))
        .to.be.revertedWithCustomError(meter, "ReporterNotAuthorized")
        .withArgs(TENANT_A, reporter.address);
      await expect(m.revokeReporter(TENANT_B, reporter.address))
        .to.be.revertedWithCustomError(meter, "ReporterNotAuthorized")
        .withArgs(TENANT_B, reporter.address);
    });

    it("only a tenant manager may authorize or revoke", async function () {
      const { meter, admin, reporter, outsider } = await loadFixture(meterFixture);
      for (const caller of [admin, reporter, outsider]) {
        await expect(meter.connect(caller).authorizeReporter(TENANT_B, outsider.address))
          .to.be.revertedWithCustomError(meter, "AccessControlUnauthorizedAccount")
          .withArgs(caller.address, TENANT_MANAGER_ROLE);
        await expect(meter.connect(caller).revokeReporter(TENANT_A, reporter.address))
          .to.be.revertedWithCustomError(meter, "AccessControlUnauthorizedAccount")
          .withArgs(caller.address, TENANT_MANAGER_ROLE);
      }
    });

    it("a reporter commits only for tenants it is authorized for", async function () {
      const { meter, reporter, reporter2 } = await loadFixture(meterFixture);
      await expect(meter.connect(reporter).commit(TENANT_B, ethers.id("x")))
        .to.be.revertedWithCustomError(meter, "ReporterNotAuthorized")
        .withArgs(TENANT_B, reporter.address);
      await expect(meter.connect(reporter2).commit(TENANT_A, ethers.id("x")))
        .to.be.revertedWithCustomError(meter, "ReporterNotAuthorized")
        .withArgs(TENANT_A, reporter2.address);
      await expect(meter.connect(reporter).commit(TENANT_A, ethers.id("x"))).to.emit(meter, "Committed");
    });

    it("re-authorization keeps the sequence high-water mark, so old sequences stay closed", async function () {
      const { meter, manager, reporter } = await loadFixture(meterFixture);
      const first = [record({ sequence: 7 })];
      const c = await commitAndAge(meter, reporter, TENANT_A, first);
      await meter.reveal(TENANT_A, reporter.address, c.salt, first);
      expect(await meter.getReporter(TENANT_A, reporter.address)).to.deep.equal([true, 7n]);

      await meter.connect(manager).revokeReporter(TENANT_A, reporter.address);
      expect(await meter.getReporter(TENANT_A, reporter.address)).to.deep.equal([false, 7n]);
      await meter.connect(manager).authorizeReporter(TENANT_A, reporter.address);
      expect(await meter.getReporter(TENANT_A, reporter.address)).to.deep.equal([true, 7n]);

      const replay = [record({ sequence: 7 })];
      const c2 = await commitAndAge(meter, reporter, TENANT_A, replay);
      await expect(meter.reveal(TENANT_A, reporter.address, c2.salt, replay))
        .to.be.revertedWithCustomError(meter, "SequenceNotIncreasing")
        .withArgs(0, 7, 7);
    });

    it("a revoked reporter can neither commit nor reveal a pending commitment", async function () {
      const { meter, manager, reporter } = await loadFixture(meterFixture);
      const recs = [record({ sequence: 1 })];
      const c = await commitAndAge(meter, reporter, TENANT_A, recs);
      await meter.connect(manager).revokeReporter(TENANT_A, reporter.address);
      await expect(meter.reveal(TENANT_A, reporter.address, c.salt, recs))
        .to.be.revertedWithCustomError(meter, "ReporterNotAuthorized")
        .withArgs(TENANT_A, reporter.address);
      await expect(meter.connect(reporter).reveal(TENANT_A, reporter.address, c.salt, recs))
        .to.be.revertedWithCustomError(meter, "ReporterNotAuthorized")
        .withArgs(TENANT_A, reporter.address);
      await expect(meter.connect(reporter).commit(TENANT_A, ethers.id("later")))
        .to.be.revertedWithCustomError(meter, "ReporterNotAuthorized")
        .withArgs(TENANT_A, reporter.address);
      // The commitment itself stays pending: only the authorization stops it.
      expect((await meter.getCommitment(reporter.address, c.commitment)).status).to.equal(1n);
    });
  });
});
