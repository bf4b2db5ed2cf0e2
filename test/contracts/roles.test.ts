import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import {
  ADMIN_DELAY,
  DEFAULT_ADMIN_ROLE,
  MAX_DELAY,
  MIN_DELAY,
  PAUSER_ROLE,
  TENANT_MANAGER_ROLE,
  deployMeter,
  meterFixture,
} from "./fixtures";

describe("UsageMeter construction and roles", function () {
  describe("constructor", function () {
    it("stores the reveal window, the admin and its delay, and exposes the constants", async function () {
      const { meter, admin, chainId } = await loadFixture(meterFixture);
      expect(await meter.MIN_REVEAL_DELAY()).to.equal(MIN_DELAY);
      expect(await meter.MAX_REVEAL_DELAY()).to.equal(MAX_DELAY);
      expect(await meter.MAX_RECORDS_PER_REVEAL()).to.equal(1000n);
      expect(await meter.defaultAdmin()).to.equal(admin.address);
      expect(await meter.owner()).to.equal(admin.address);
      expect(await meter.defaultAdminDelay()).to.equal(ADMIN_DELAY);
      expect(await meter.PAUSER_ROLE()).to.equal(PAUSER_ROLE);
      expect(await meter.TENANT_MANAGER_ROLE()).to.equal(TENANT_MANAGER_ROLE);
      expect(await meter.DEFAULT_ADMIN_ROLE()).to.equal(DEFAULT_ADMIN_ROLE);
      expect(await meter.COMMIT_TYPEHASH()).to.equal(
        ethers.id("Commit(address reporter,uint32 tenantId,bytes32 commitment,uint256 nonce,uint256 deadline)"),
      );
      const address = await meter.getAddress();
      expect(await meter.DOMAIN_SEPARATOR()).to.equal(
        ethers.TypedDataEncoder.hashDomain({ name: "UsageMeter", version: "1", chainId, verifyingContract: address }),
      );
      const domain = await meter.eip712Domain();
      expect([domain.name, domain.version, domain.chainId, domain.verifyingContract]).to.deep.equal([
        "UsageMeter",
        "1",
        chainId,
        address,
      ]);
      expect(await meter.paused()).to.equal(false);
      expect(await meter.tenantCount()).to.equal(2);
    });

    it("accepts the narrowest window (min 1, max 2)", async function () {
      const [admin] = await ethers.getSigners();
      const meter = await deployMeter(admin!.address, 1, 2);
      expect(await meter.MIN_REVEAL_DELAY()).to.equal(1);
      expect(await meter.MAX_REVEAL_DELAY()).to.equal(2);
    });

    it("rejects a zero minimum delay and a maximum not above the minimum", async function () {
      const [admin] = await ethers.getSigners();
      const factory = await ethers.getContractFactory("UsageMeter");
      for (const [min, max] of [
        [0, 10],
        [5, 5],
        [6, 5],
      ] as const) {
        await expect(factory.deploy(ADMIN_DELAY, admin!.address, min, max))
          .to.be.revertedWithCustomError(factory, "InvalidRevealWindow")
          .withArgs(min, max);
      }
    });

    it("rejects a zero default admin", async function () {
      const factory = await ethers.getContractFactory("UsageMeter");
      await expect(factory.deploy(ADMIN_DELAY, ethers.ZeroAddress, MIN_DELAY, MAX_DELAY))
        .to.be.revertedWithCustomError(factory, "AccessControlInvalidDefaultAdmin")
        .withArgs(ethers.ZeroAddress);
    });

    it("supports the AccessControl and AccessControlDefaultAdminRules interfaces", async function () {
      const { meter } = await loadFixture(meterFixture);
      expect(await meter.supportsInterface("0x01ffc9a7")).to.equal(true); // ERC-165
      expect(await meter.supportsInterface("0x7965db0b")).to.equal(true); // IAccessControl
      expect(await meter.supportsInterface("0x31498786")).to.equal(true); // IAccessControlDefaultAdminRules
      expect(await meter.supportsInterface("0xffffffff")).to.equal(false);
    });
  });

  describe("role administration", function () {
    it("the default admin administers the pauser and tenant-manager roles", async function () {
      const { meter, outsider } = await loadFixture(meterFixture);
      expect(await meter.getRoleAdmin(PAUSER_ROLE)).to.equal(DEFAULT_ADMIN_ROLE);
      expect(await meter.getRoleAdmin(TENANT_MANAGER_ROLE)).to.equal(DEFAULT_ADMIN_ROLE);
      await expect(meter.grantRole(PAUSER_ROLE, outsider.address))
        .to.emit(meter, "RoleGranted")
        .withArgs(PAUSER_ROLE, outsider.address, await meter.defaultAdmin());
      expect(await meter.hasRole(PAUSER_ROLE, outsider.address)).to.equal(true);
      await expect(meter.revokeRole(PAUSER_ROLE, outsider.address)).to.emit(meter, "RoleRevoked");
      expect(await meter.hasRole(PAUSER_ROLE, outsider.address)).to.equal(false);
    });

    it("nobody else can grant or revoke roles", async function () {
      const { meter, pauser, manager, outsider } = await loadFixture(meterFixture);
      for (const caller of [pauser, manager, outsider]) {
        await expect(meter.connect(caller).grantRole(TENANT_MANAGER_ROLE, outsider.address))
          .to.be.revertedWithCustomError(meter, "AccessControlUnauthorizedAccount")
          .withArgs(caller.address, DEFAULT_ADMIN_ROLE);
        await expect(meter.connect(caller).revokeRole(PAUSER_ROLE, pauser.address))
          .to.be.revertedWithCustomError(meter, "AccessControlUnauthorizedAccount")
          .withArgs(caller.address, DEFAULT_ADMIN_ROLE);
      }
    });

    it("the default admin role can't be granted or revoked directly", async function () {
      const { meter, admin, outsider } = await loadFixture(meterFixture);
      await expect(meter.grantRole(DEFAULT_ADMIN_ROLE, outsider.address)).to.be.revertedWithCustomError(
        meter,
        "AccessControlEnforcedDefaultAdminRules",
      );
      await expect(meter.revokeRole(DEFAULT_ADMIN_ROLE, admin.address)).to.be.revertedWithCustomError(
        meter,
        "AccessControlEnforcedDefaultAdminRules",
      );
    });

    it("a holder renounces its own role only", async function () {
      const { meter, pauser, manager } = await loadFixture(meterFixture);
      await expect(meter.connect(manager).renounceRole(PAUSER_ROLE, pauser.address)).to.be.revertedWithCustomError(
        meter,
        "AccessControlBadConfirmation",
      );
      await meter.connect(pauser).renounceRole(PAUSER_ROLE, pauser.address);
      expect(await meter.hasRole(PAUSER_ROLE, pauser.address)).to.equal(false);
      await expect(meter.connect(pauser).pause("gone"))
        .to.be.revertedWithCustomError(meter, "AccessControlUnauthorizedAccount")
        .withArgs(pauser.address, PAUSER_ROLE);
    });
  });

  describe("default admin transfer (two-step, delayed)", function () {
    it("begin, wait the delay, accept: the new admin holds the role and the old one lost it", async function () {
      const { meter, admin, outsider: next } = await loadFixture(meterFixture);
      const tx = await meter.beginDefaultAdminTransfer(next.address);
      const scheduledAt = (await ethers.provider.getBlock((await tx.wait())?.blockNumber ?? "latest"))?.timestamp;
      const schedule = BigInt(scheduledAt ?? 0) + BigInt(ADMIN_DELAY);
      await expect(tx).to.emit(meter, "DefaultAdminTransferScheduled").withArgs(next.address, schedule);
      const pending = await meter.pendingDefaultAdmin();
      expect([pending.newAdmin, pending.schedule]).to.deep.equal([next.address, schedule]);

      await expect(meter.connect(next).acceptDefaultAdminTransfer())
        .to.be.revertedWithCustomError(meter, "AccessControlEnforcedDefaultAdminDelay")
        .withArgs(schedule);
      await time.increaseTo(schedule + 1n);
      await expect(meter.connect(admin).acceptDefaultAdminTransfer())
        .to.be.revertedWithCustomError(meter, "AccessControlInvalidDefaultAdmin")
        .withArgs(admin.address);

      await expect(meter.connect(next).acceptDefaultAdminTransfer())
        .to.emit(meter, "RoleRevoked")
        .withArgs(DEFAULT_ADMIN_ROLE, admin.address, next.address)
        .and.to.emit(meter, "RoleGranted")
        .withArgs(DEFAULT_ADMIN_ROLE, next.address, next.address);
      expect(await meter.defaultAdmin()).to.equal(next.address);
      expect(await meter.hasRole(DEFAULT_ADMIN_ROLE, admin.address)).to.equal(false);
      await expect(meter.connect(admin).grantRole(PAUSER_ROLE, admin.address)).to.be.revertedWithCustomError(
        meter,
        "AccessControlUnauthorizedAccount",
      );
      await meter.connect(next).grantRole(PAUSER_ROLE, next.address);
    });

    it("only the default admin begins or cancels a transfer; cancel voids it", async function () {
      const { meter, outsider: next, pauser } = await loadFixture(meterFixture);
      await expect(meter.connect(pauser).beginDefaultAdminTransfer(pauser.address))
        .to.be.revertedWithCustomError(meter, "AccessControlUnauthorizedAccount")
        .withArgs(pauser.address, DEFAULT_ADMIN_ROLE);
      await meter.beginDefaultAdminTransfer(next.address);
      await expect(meter.connect(next).cancelDefaultAdminTransfer())
        .to.be.revertedWithCustomError(meter, "AccessControlUnauthorizedAccount")
        .withArgs(next.address, DEFAULT_ADMIN_ROLE);
      await expect(meter.cancelDefaultAdminTransfer()).to.emit(meter, "DefaultAdminTransferCanceled");
      expect((await meter.pendingDefaultAdmin()).newAdmin).to.equal(ethers.ZeroAddress);
      await time.increase(ADMIN_DELAY + 1);
      await expect(meter.connect(next).acceptDefaultAdminTransfer())
        .to.be.revertedWithCustomError(meter, "AccessControlInvalidDefaultAdmin")
        .withArgs(next.address);
    });

    it("changeDefaultAdminDelay is scheduled, takes effect later and can be rolled back", async function () {
      const { meter, outsider } = await loadFixture(meterFixture);
      await expect(meter.connect(outsider).changeDefaultAdminDelay(60)).to.be.revertedWithCustomError(
        meter,
        "AccessControlUnauthorizedAccount",
      );
      await expect(meter.connect(outsider).rollbackDefaultAdminDelay()).to.be.revertedWithCustomError(
        meter,
        "AccessControlUnauthorizedAccount",
      );

      // Decreasing waits the difference between the delays (here the whole old delay minus the new one).
      await expect(meter.changeDefaultAdminDelay(60)).to.emit(meter, "DefaultAdminDelayChangeScheduled");
      const pending = await meter.pendingDefaultAdminDelay();
      expect(pending.newDelay).to.equal(60n);
      expect(await meter.defaultAdminDelay()).to.equal(ADMIN_DELAY);
      await expect(meter.rollbackDefaultAdminDelay()).to.emit(meter, "DefaultAdminDelayChangeCanceled");
      expect((await meter.pendingDefaultAdminDelay()).newDelay).to.equal(0n);

      await meter.changeDefaultAdminDelay(60);
      const { schedule } = await meter.pendingDefaultAdminDelay();
      await time.increaseTo(schedule + 1n);
      expect(await meter.defaultAdminDelay()).to.equal(60n);
      expect(await meter.defaultAdminDelayIncreaseWait()).to.equal(5n * 24n * 60n * 60n);
    });

    it("the admin can renounce only through a scheduled transfer to the zero address", async function () {
      const { meter, admin } = await loadFixture(meterFixture);
      await expect(meter.renounceRole(DEFAULT_ADMIN_ROLE, admin.address))
        .to.be.revertedWithCustomError(meter, "AccessControlEnforcedDefaultAdminDelay")
        .withArgs(0);
      await meter.beginDefaultAdminTransfer(ethers.ZeroAddress);
      await time.increase(ADMIN_DELAY + 1);
      await meter.renounceRole(DEFAULT_ADMIN_ROLE, admin.address);
      expect(await meter.defaultAdmin()).to.equal(ethers.ZeroAddress);
      await expect(meter.unpause()).to.be.revertedWithCustomError(meter, "AccessControlUnauthorizedAccount");
    });
  });
});
