import { expect } from "chai";
import hre from "hardhat";
import { Interface } from "ethers";
import { ROLES } from "../../../chain/roles";
import { usageMeterAbi } from "../../../chain/abi.generated";
import { blockNumber, deployMeter, fundedWallet, runTask, signAs, useTaskEnvironment } from "./support";

describe("meter:pause / meter:unpause", function () {
  useTaskEnvironment();

  it("a pauser pauses with a reason; only the admin unpauses", async function () {
    const pauser = await fundedWallet();
    const { meter } = await deployMeter({ grantPauser: pauser.address });

    signAs(pauser);
    const paused = await runTask("meter:pause", { reason: "INC-42 reporter key leak" });
    expect(paused.exitCode).to.equal(0);
    expect(paused.stdout).to.contain('UsageMeter paused: "INC-42 reporter key leak"');
    expect(await meter.paused()).to.equal(true);
    const [event] = await meter.queryFilter(meter.filters.PauseReason());
    expect(event?.args.account).to.equal(pauser.address);
    expect(event?.args.reason).to.equal("INC-42 reporter key leak");

    const twice = await runTask("meter:pause", { reason: "again" });
    expect(twice.exitCode).to.equal(1);
    expect(twice.stderr).to.equal("error: UsageMeter is already paused");

    // The pauser cannot restart the system: it gets the admin's transaction to propose.
    const byPauser = await runTask("meter:unpause");
    expect(byPauser.exitCode).to.equal(2);
    expect(byPauser.stdout).to.contain(`signer ${pauser.address} does not hold DEFAULT_ADMIN_ROLE`);
    expect(byPauser.stdout).to.contain(`data:     ${new Interface(usageMeterAbi).encodeFunctionData("unpause")}`);
    expect(await meter.paused()).to.equal(true);

    signAs(undefined);
    const unpaused = await runTask("meter:unpause");
    expect(unpaused.exitCode).to.equal(0);
    expect(await meter.paused()).to.equal(false);
    const notPaused = await runTask("meter:unpause");
    expect(notPaused.stderr).to.equal("error: UsageMeter is not paused");
  });

  it("prints the pause transaction when the signer is not a pauser", async function () {
    const { meter, deployment } = await deployMeter();
    const run = await runTask("meter:pause", { reason: "drill" });
    expect(run.exitCode).to.equal(2);
    const data = new Interface(usageMeterAbi).encodeFunctionData("pause", ["drill"]);
    expect(run.stdout).to.contain("does not hold PAUSER_ROLE");
    expect(run.stdout).to.contain(`to:       ${deployment.address}`);
    expect(run.stdout).to.contain(`data:     ${data}`);
    expect(run.stdout).to.contain('reason = "drill"');
    expect(await meter.paused()).to.equal(false);

    const [admin] = await hre.ethers.getSigners();
    await (await meter.grantRole(ROLES.PAUSER_ROLE, admin!.address)).wait();
    await (await admin!.sendTransaction({ to: deployment.address, data })).wait();
    expect(await meter.paused()).to.equal(true);
  });

  it("requires a reason", async function () {
    const [admin] = await hre.ethers.getSigners();
    await deployMeter({ grantPauser: admin!.address });
    const before = await blockNumber();
    expect(hre.tasks["meter:pause"]!.paramDefinitions.reason!.isOptional, "help shows --reason as required").to.equal(false);
    const missing = await runTask("meter:pause", {}).catch((e: Error) => e);
    expect(String(missing)).to.match(/HH306.*reason/);
    for (const [args, message] of [
      [{ reason: "   " }, /^error: --reason: must not be empty/],
      [{ reason: "x".repeat(281) }, /^error: --reason: must be at most 280 characters$/],
    ] as Array<[Record<string, unknown>, RegExp]>) {
      const run = await runTask("meter:pause", args);
      expect(run.exitCode).to.equal(1);
      expect(run.stderr).to.match(message);
    }
    expect(await blockNumber()).to.equal(before);
  });
});
