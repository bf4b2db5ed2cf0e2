import { expect } from "chai";
import hre from "hardhat";
import { encodeBytes32String, Interface } from "ethers";
import { ROLES } from "../../../chain/roles";
import { usageMeterAbi } from "../../../chain/abi.generated";
import { describeRevert } from "../../../chain/revert";
import type { RolesResult } from "../../../scripts/tasks/roles";
import { blockNumber, deployMeter, fundedWallet, runTask, signAs, useTaskEnvironment } from "./support";

function listing(run: { result: RolesResult }) {
  if (run.result.action !== "list") throw new Error("expected a listing");
  return run.result.listing;
}

describe("meter:roles", function () {
  useTaskEnvironment();

  it("lists holders reconstructed from grants and revokes", async function () {
    const [admin, a, b] = await hre.ethers.getSigners();
    await deployMeter({ adminDelay: "86400" });

    const initial = await runTask<RolesResult>("meter:roles", {});
    expect(initial.exitCode).to.equal(0);
    expect(listing(initial)).to.deep.include({
      defaultAdmin: admin!.address,
      adminDelay: 86400n,
      pendingAdmin: null,
      holders: { DEFAULT_ADMIN_ROLE: [admin!.address], PAUSER_ROLE: [], TENANT_MANAGER_ROLE: [] },
    });
    expect(initial.stdout).to.match(/PAUSER_ROLE:\s+\(none\)/);

    expect((await runTask("meter:roles", { action: "grant", role: "pauser", account: a!.address })).exitCode).to.equal(0);
    expect((await runTask("meter:roles", { action: "grant", role: "TENANT_MANAGER_ROLE", account: a!.address })).exitCode).to.equal(0);
    expect((await runTask("meter:roles", { action: "grant", role: "tenant-manager", account: b!.address })).exitCode).to.equal(0);
    const revoke = await runTask("meter:roles", { action: "revoke", role: "TENANT_MANAGER_ROLE", account: a!.address });
    expect(revoke.stdout).to.contain(`revoked TENANT_MANAGER_ROLE from ${a!.address}`);

    const after = await runTask<RolesResult>("meter:roles", { action: "list" });
    expect(listing(after).holders).to.deep.equal({
      DEFAULT_ADMIN_ROLE: [admin!.address],
      PAUSER_ROLE: [a!.address],
      TENANT_MANAGER_ROLE: [b!.address],
    });
    expect(after.stdout).to.contain(`TENANT_MANAGER_ROLE:  ${b!.address}`);
  });

  it("begins, shows and cancels an admin transfer, and accepts one after the delay", async function () {
    const [admin] = await hre.ethers.getSigners();
    const { meter } = await deployMeter({ adminDelay: "3600" });
    const multisig = await fundedWallet();

    const begin = await runTask("meter:roles", { action: "begin-transfer", account: multisig.address });
    expect(begin.exitCode).to.equal(0);
    expect(begin.stdout).to.contain(`admin transfer to ${multisig.address} begun`);
    const pending = listing(await runTask<RolesResult>("meter:roles", {})).pendingAdmin;
    expect(pending?.newAdmin).to.equal(multisig.address);

    const cancel = await runTask("meter:roles", { action: "cancel-transfer" });
    expect(cancel.exitCode).to.equal(0);
    expect(listing(await runTask<RolesResult>("meter:roles", {})).pendingAdmin).to.equal(null);
    const nothing = await runTask("meter:roles", { action: "cancel-transfer" });
    expect(nothing.stderr).to.equal("error: no admin transfer is pending");

    await runTask("meter:roles", { action: "begin-transfer", account: multisig.address });
    signAs(multisig);
    const early = await runTask("meter:roles", { action: "accept-transfer" });
    expect(early.exitCode).to.equal(1);
    expect(early.stderr).to.match(/^error: the transfer to 0x[0-9a-fA-F]{40} can be accepted after \S+Z \(chain time is \S+Z\)$/);

    await hre.network.provider.send("evm_increaseTime", [3601]);
    await hre.network.provider.send("evm_mine", []);
    const accept = await runTask("meter:roles", { action: "accept-transfer" });
    expect(accept.exitCode).to.equal(0);
    expect(await meter.defaultAdmin()).to.equal(multisig.address);
    expect(listing(await runTask<RolesResult>("meter:roles", {})).holders.DEFAULT_ADMIN_ROLE).to.deep.equal([multisig.address]);

    // The old admin now gets a proposal instead of a transaction.
    signAs(undefined);
    const grant = await runTask("meter:roles", { action: "grant", role: "pauser", account: admin!.address });
    expect(grant.exitCode).to.equal(2);
  });

  it("prints the transaction for the multisig when the signer is not the admin", async function () {
    const { deployment, meter } = await deployMeter();
    const outsider = await fundedWallet();
    signAs(outsider);
    const before = await blockNumber();
    const run = await runTask("meter:roles", { action: "grant", role: "pauser", account: outsider.address });
    expect(run.exitCode).to.equal(2);
    expect(await blockNumber()).to.equal(before);
    const data = new Interface(usageMeterAbi).encodeFunctionData("grantRole", [ROLES.PAUSER_ROLE, outsider.address]);
    expect(run.stdout).to.contain(`to:       ${deployment.address}`);
    expect(run.stdout).to.contain(`data:     ${data}`);
    expect(run.stdout).to.contain("function: grantRole(bytes32 role, address account)");
    expect(run.stdout).to.contain(`role    = PAUSER_ROLE (${ROLES.PAUSER_ROLE})`);
    expect(await meter.hasRole(ROLES.PAUSER_ROLE, outsider.address)).to.equal(false);

    // accept-transfer names the pending admin as the sender
    signAs(undefined);
    await runTask("meter:roles", { action: "begin-transfer", account: "0x000000000000000000000000000000000000bEEF" });
    signAs(outsider);
    const accept = await runTask("meter:roles", { action: "accept-transfer" });
    expect(accept.exitCode).to.equal(2);
    expect(accept.stdout).to.contain("Propose this transaction from the pending admin");
    expect(accept.stdout).to.contain("0x000000000000000000000000000000000000bEEF");
  });

  it("rejects bad input with one line and changes nothing", async function () {
    const [admin, a] = await hre.ethers.getSigners();
    await deployMeter();
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ action: "promote" }, /^error: --action: must be one of list, grant, revoke, begin-transfer, accept-transfer, cancel-transfer$/],
      [{ action: "grant", account: a!.address }, /^error: --role is required/],
      [{ action: "grant", role: "king", account: a!.address }, /^error: --role: unknown role "king"/],
      [{ action: "grant", role: "DEFAULT_ADMIN_ROLE", account: a!.address }, /begin-transfer \/ accept-transfer/],
      [{ action: "grant", role: "pauser" }, /^error: --account is required$/],
      [{ action: "grant", role: "pauser", account: "bob" }, /^error: --account: "bob" is not a 0x-prefixed 20-byte address$/],
      [{ action: "revoke", role: "pauser", account: a!.address }, /does not hold PAUSER_ROLE/],
      [{ action: "begin-transfer", account: admin!.address }, /is already the default admin/],
      [{ action: "accept-transfer" }, /^error: no admin transfer is pending$/],
    ];
    const before = await blockNumber();
    for (const [args, message] of cases) {
      const run = await runTask("meter:roles", args);
      expect(run.exitCode, JSON.stringify(args)).to.equal(1);
      expect(run.stderr, JSON.stringify(args)).to.match(message);
    }
    expect(await blockNumber()).to.equal(before);
  });

  it("names the custom error of a reverted call", async function () {
    const { meter, deployment } = await deployMeter();
    const outsider = await fundedWallet();
    const data = meter.interface.encodeFunctionData("registerTenant", [encodeBytes32String("acme")]);
    let caught: unknown;
    try {
      await outsider.call({ to: deployment.address, data });
    } catch (err) {
      caught = err;
    }
    expect(describeRevert(caught)).to.equal(
      `AccessControlUnauthorizedAccount(account=${outsider.address}, neededRole=${ROLES.TENANT_MANAGER_ROLE})`,
    );
  });
});
