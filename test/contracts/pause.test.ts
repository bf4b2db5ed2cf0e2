import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, mine, time } from "@nomicfoundation/hardhat-network-helpers";
import type { FunctionFragment, Interface, Signer } from "ethers";
import { UsageMeter__factory } from "../../scripts/typechain-types";
import {
  ADMIN_DELAY,
  DEFAULT_ADMIN_ROLE,
  MAX_DELAY,
  MIN_DELAY,
  PAUSER_ROLE,
  TENANT_A,
  TENANT_B,
  TENANT_MANAGER_ROLE,
  commitRecords,
  meterFixture,
  name32,
  record,
  signCommit,
} from "./fixtures";

/**
 * State in which every state-changing function has a call that succeeds: a commitment old enough
 * to reveal, one old enough to expire, and a default-admin transfer whose delay has passed.
 */
async function readyFixture() {
  const base = await meterFixture();
  const { meter, reporter, admin, outsider } = base;
  const lapsedRecords = [record({ sequence: 1 })];
  const lapsed = await commitRecords(meter, reporter, TENANT_A, lapsedRecords);
  await mine(MAX_DELAY + 1);
  const revealRecords = [record({ sequence: 2 })];
  const revealable = await commitRecords(meter, reporter, TENANT_A, revealRecords);
  await mine(MIN_DELAY);
  await meter.connect(admin).beginDefaultAdminTransfer(outsider.address);
  await time.increase(ADMIN_DELAY + 1);
  return { ...base, lapsed, revealable, revealRecords };
}

type Ready = Awaited<ReturnType<typeof readyFixture>>;
interface Call {
  from: Signer;
  data: string;
}
type CallBuilder = (ctx: Ready) => Promise<Call>;

// The untyped Interface view, so builders can encode by name and the ABI can be walked generically.
const iface: Interface = UsageMeter__factory.createInterface();
const encode = (fn: string, args: readonly unknown[]) => iface.encodeFunctionData(fn, args);

/** Calls that are valid while the contract runs and must revert EnforcedPause while it's paused. */
const GUARDED: Record<string, CallBuilder> = {
  "pause(string)": async (c) => ({ from: c.pauser, data: encode("pause", ["again"]) }),
  "registerTenant(bytes32)": async (c) => ({ from: c.manager, data: encode("registerTenant", [name32("initech")]) }),
  "registerMeter(uint32,bytes32)": async (c) => ({
    from: c.manager,
    data: encode("registerMeter", [TENANT_B, name32("egress")]),
  }),
  "authorizeReporter(uint32,address)": async (c) => ({
    from: c.manager,
    data: encode("authorizeReporter", [TENANT_B, c.reporter.address]),
  }),
  "commit(uint32,bytes32)": async (c) => ({ from: c.reporter, data: encode("commit", [TENANT_A, ethers.id("new")]) }),
  "commitWithSignature(address,uint32,bytes32,uint256,bytes)": async (c) => {
    const message = {
      reporter: c.reporter.address,
      tenantId: TENANT_A,
      commitment: ethers.id("signed"),
      nonce: await c.meter.nonces(c.reporter.address),
      deadline: BigInt((await time.latest()) + 3600),
    };
    const sig = await signCommit(c.reporter, await c.meter.getAddress(), c.chainId, message);
    const args = [message.reporter, message.tenantId, message.commitment, message.deadline, sig];
    return { from: c.relayer, data: encode("commitWithSignature", args) };
  },
  "reveal(uint32,address,bytes32,(uint256,bytes32)[])": async (c) => ({
    from: c.outsider,
    data: encode("reveal", [TENANT_A, c.reporter.address, c.revealable.salt, c.revealRecords]),
  }),
  "expire(address,bytes32)": async (c) => ({
    from: c.outsider,
    data: encode("expire", [c.reporter.address, c.lapsed.commitment]),
  }),
};

/**
 * Role administration, reporter revocation (both only remove privilege) and unpause: must keep
 * working while paused (each call valid in the paused state).
 */
const EXEMPT: Record<string, CallBuilder> = {
  "revokeReporter(uint32,address)": async (c) => ({
    from: c.manager,
    data: encode("revokeReporter", [TENANT_A, c.reporter.address]),
  }),
  "unpause()": async (c) => ({ from: c.admin, data: encode("unpause", []) }),
  "grantRole(bytes32,address)": async (c) => ({
    from: c.admin,
    data: encode("grantRole", [PAUSER_ROLE, c.outsider.address]),
  }),
  "revokeRole(bytes32,address)": async (c) => ({
    from: c.admin,
    data: encode("revokeRole", [TENANT_MANAGER_ROLE, c.manager.address]),
  }),
  "renounceRole(bytes32,address)": async (c) => ({
    from: c.pauser,
    data: encode("renounceRole", [PAUSER_ROLE, c.pauser.address]),
  }),
  "beginDefaultAdminTransfer(address)": async (c) => ({
    from: c.admin,
    data: encode("beginDefaultAdminTransfer", [c.relayer.address]),
  }),
  "cancelDefaultAdminTransfer()": async (c) => ({ from: c.admin, data: encode("cancelDefaultAdminTransfer", []) }),
  "acceptDefaultAdminTransfer()": async (c) => ({ from: c.outsider, data: encode("acceptDefaultAdminTransfer", []) }),
  "changeDefaultAdminDelay(uint48)": async (c) => ({ from: c.admin, data: encode("changeDefaultAdminDelay", [60]) }),
  "rollbackDefaultAdminDelay()": async (c) => ({ from: c.admin, data: encode("rollbackDefaultAdminDelay", []) }),
};

/** Dispatches to the functions above through delegatecall; each inner call keeps its own guard. */
const DISPATCHER = "multicall(bytes[])";

const stateChanging = iface.fragments
  .filter((f): f is FunctionFragment => f.type === "function")
  .filter((f) => !f.constant)
  .map((f) => f.format("sighash"));

async function send(meterAddress: string, call: Call) {
  return call.from.sendTransaction({ to: meterAddress, data: call.data });
}

describe("UsageMeter pause", function () {
  describe("who may pause and unpause", function () {
    it("a pauser pauses with a reason recorded on chain", async function () {
      const { meter, pauser } = await loadFixture(meterFixture);
      await expect(meter.connect(pauser).pause("key compromise at reporter 7"))
        .to.emit(meter, "Paused")
        .withArgs(pauser.address)
        .and.to.emit(meter, "PauseReason")
        .withArgs(pauser.address, "key compromise at reporter 7");
      expect(await meter.paused()).to.equal(true);
    });

    it("nobody without PAUSER_ROLE may pause, not even the default admin", async function () {
      const { meter, admin, manager, outsider } = await loadFixture(meterFixture);
      for (const caller of [admin, manager, outsider]) {
        await expect(meter.connect(caller).pause("no"))
          .to.be.revertedWithCustomError(meter, "AccessControlUnauthorizedAccount")
          .withArgs(caller.address, PAUSER_ROLE);
      }
    });

    it("only the default admin unpauses; a pauser can't restart the system", async function () {
      const { meter, admin, pauser, manager } = await loadFixture(meterFixture);
      await meter.connect(pauser).pause("incident");
      for (const caller of [pauser, manager]) {
        await expect(meter.connect(caller).unpause())
          .to.be.revertedWithCustomError(meter, "AccessControlUnauthorizedAccount")
          .withArgs(caller.address, DEFAULT_ADMIN_ROLE);
      }
      await expect(meter.connect(admin).unpause()).to.emit(meter, "Unpaused").withArgs(admin.address);
      expect(await meter.paused()).to.equal(false);
      await expect(meter.connect(admin).unpause()).to.be.revertedWithCustomError(meter, "ExpectedPause");
    });

    it("views keep working while paused", async function () {
      const { meter, pauser, reporter } = await loadFixture(readyFixture);
      await meter.connect(pauser).pause("incident");
      expect((await meter.getCommitment(reporter.address, ethers.id("x"))).status).to.equal(0n);
      expect((await meter.getTenant(TENANT_A)).meterCount).to.equal(2n);
      expect(await meter.commitmentHash(reporter.address, TENANT_A, ethers.ZeroHash, [])).to.match(/^0x[0-9a-f]{64}$/);
      expect(await meter.encodeRecord(1, 2, 3, 4, 5)).to.be.a("bigint");
    });

    it("a pause longer than MAX_REVEAL_DELAY lapses pending commitments; after unpause they can only expire", async function () {
      const { meter, admin, pauser, outsider, reporter, revealable, revealRecords } = await loadFixture(readyFixture);
      await meter.connect(pauser).pause("long incident");
      await mine(MAX_DELAY);
      await meter.connect(admin).unpause();
      await expect(meter.reveal(TENANT_A, reporter.address, revealable.salt, revealRecords))
        .to.be.revertedWithCustomError(meter, "RevealTooLate")
        .withArgs(revealable.commitment, revealable.blockNumber + MAX_DELAY);
      await expect(meter.connect(outsider).expire(reporter.address, revealable.commitment)).to.emit(
        meter,
        "CommitmentExpired",
      );
    });
  });

  describe("every state-changing function, enumerated from the ABI", function () {
    it("each one is classified: guarded, exempt (role administration, reporter revocation, unpause) or the multicall dispatcher", function () {
      const known = new Set([...Object.keys(GUARDED), ...Object.keys(EXEMPT), DISPATCHER]);
      const unclassified = stateChanging.filter((sig) => !known.has(sig));
      expect(unclassified, "state-changing functions without a pause test: add a call builder").to.deep.equal([]);
      const stale = [...known].filter((sig) => !stateChanging.includes(sig));
      expect(stale, "builders for functions the ABI no longer has").to.deep.equal([]);
      expect(Object.keys(GUARDED).filter((sig) => sig in EXEMPT)).to.deep.equal([]);
      expect(stateChanging.length).to.equal(Object.keys(GUARDED).length + Object.keys(EXEMPT).length + 1);
    });

    for (const sig of stateChanging) {
      if (sig === DISPATCHER) continue;
      const guarded = GUARDED[sig];
      const exempt = EXEMPT[sig];

      if (exempt) {
        it(`${sig} still works while paused (exempt)`, async function () {
          const ctx = await loadFixture(readyFixture);
          const to = await ctx.meter.getAddress();
          await ctx.meter.connect(ctx.pauser).pause("incident");
          await expect(send(to, await exempt(ctx))).not.to.be.reverted;
        });
        continue;
      }

      it(`${sig} reverts EnforcedPause while paused, directly and inside multicall`, async function () {
        if (!guarded) {
          expect.fail(`${sig} is state-changing but has no valid-call builder: add it to GUARDED (or to EXEMPT)`);
        }
        const ctx = await loadFixture(readyFixture);
        const { meter, pauser } = ctx;
        const to = await meter.getAddress();
        const call = await guarded(ctx);
        // The call is valid in the running system, so the revert below is the pause and nothing else.
        await call.from.call({ to, data: call.data });
        await meter.connect(pauser).pause("incident");
        await expect(send(to, call)).to.be.revertedWithCustomError(meter, "EnforcedPause");
        await expect(meter.connect(call.from).multicall([call.data])).to.be.revertedWithCustomError(
          meter,
          "EnforcedPause",
        );
        // After unpause the very same call goes through.
        await meter.connect(ctx.admin).unpause();
        await expect(send(to, call)).not.to.be.reverted;
      });
    }

    it("multicall itself only dispatches: exempt calls go through it while paused, guarded ones don't", async function () {
      const ctx = await loadFixture(readyFixture);
      const { meter, admin, pauser, outsider } = ctx;
      await meter.connect(pauser).pause("incident");
      const grant = await EXEMPT["grantRole(bytes32,address)"]!(ctx);
      const commit = await GUARDED["commit(uint32,bytes32)"]!(ctx);
      await expect(meter.connect(admin).multicall([grant.data]))
        .to.emit(meter, "RoleGranted")
        .withArgs(PAUSER_ROLE, outsider.address, admin.address);
      // A guarded call anywhere in the batch reverts the whole batch.
      const mixed = meter
        .connect(admin)
        .multicall([encode("revokeRole", [PAUSER_ROLE, outsider.address]), commit.data]);
      await expect(mixed).to.be.revertedWithCustomError(meter, "EnforcedPause");
      expect(await meter.hasRole(PAUSER_ROLE, outsider.address)).to.equal(true);
    });
  });
});
