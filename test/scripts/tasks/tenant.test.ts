import { expect } from "chai";
import hre from "hardhat";
import { encodeBytes32String, Interface } from "ethers";
import { ROLES } from "../../../chain/roles";
import { usageMeterAbi } from "../../../chain/abi.generated";
import type { TenantResult } from "../../../scripts/tasks/tenant";
import { blockNumber, deployMeter, fundedWallet, runTask, signAs, useTaskEnvironment } from "./support";

const iface = new Interface(usageMeterAbi);

describe("meter:tenant", function () {
  useTaskEnvironment();

  it("registers tenants and meters and prints their ids", async function () {
    const [admin] = await hre.ethers.getSigners();
    const { meter } = await deployMeter({ grantManager: admin!.address });

    const acme = await runTask<TenantResult>("meter:tenant", { plainNames: true, action: "register", name: "acme" });
    expect(acme.exitCode).to.equal(0);
    expect(acme.stdout).to.match(/^tenant 1 "acme" registered \(tx 0x[0-9a-f]{64}\)$/);
    expect(acme.result).to.include({ action: "register", tenantId: 1 });

    const globex = await runTask<TenantResult>("meter:tenant", { plainNames: true, action: "register", name: "globex ü" });
    expect(globex.result).to.include({ tenantId: 2 });

    const meters = await runTask<TenantResult>("meter:tenant", { plainNames: true, action: "meters", tenant: "acme", meters: "api_calls, storage_gb_h" });
    expect(meters.exitCode).to.equal(0);
    expect(meters.result).to.deep.include({
      tenantId: 1,
      meterIds: [
        { name: "api_calls", meterId: 1 },
        { name: "storage_gb_h", meterId: 2 },
      ],
    });
    expect(meters.stdout).to.contain('tenant 1 meter 2 "storage_gb_h" registered');
    // both meters in one transaction
    expect(meters.result.outcome.kind === "sent" && meters.result.outcome.receipt.logs.length).to.equal(2);

    const one = await runTask<TenantResult>("meter:tenant", { plainNames: true, action: "meters", tenant: "2", meters: "egress" });
    expect(one.result).to.deep.include({ tenantId: 2, meterIds: [{ name: "egress", meterId: 1 }] });

    expect(await meter.tenantCount()).to.equal(2n);
    expect(await meter.meterIdByName(1, encodeBytes32String("storage_gb_h"))).to.equal(2n);
    expect(await meter.tenantIdByName(encodeBytes32String("globex ü"))).to.equal(2n);
  });

  it("authorizes and revokes reporters by tenant id or name", async function () {
    const [admin, , reporter] = await hre.ethers.getSigners();
    const { meter } = await deployMeter({ grantManager: admin!.address });
    await runTask("meter:tenant", { plainNames: true, action: "register", name: "acme" });

    const auth = await runTask("meter:tenant", { action: "authorize", tenant: "acme", reporter: reporter!.address.toLowerCase() });
    expect(auth.exitCode).to.equal(0);
    expect(auth.stdout).to.contain(`reporter ${reporter!.address} authorized for tenant 1`);
    expect((await meter.getReporter(1, reporter!.address))[0]).to.equal(true);

    const again = await runTask("meter:tenant", { action: "authorize", tenant: "1", reporter: reporter!.address });
    expect(again.exitCode).to.equal(1);
    expect(again.stderr).to.equal(`error: --reporter: ${reporter!.address} is already authorized for tenant 1`);

    const revoke = await runTask("meter:tenant", { action: "revoke", tenant: "1", reporter: reporter!.address });
    expect(revoke.exitCode).to.equal(0);
    expect(revoke.stdout).to.contain("revoked from tenant 1");
    expect((await meter.getReporter(1, reporter!.address))[0]).to.equal(false);

    const twice = await runTask("meter:tenant", { action: "revoke", tenant: "1", reporter: reporter!.address });
    expect(twice.stderr).to.equal(`error: --reporter: ${reporter!.address} is not authorized for tenant 1`);
  });

  it("rejects bad input with one line and changes nothing", async function () {
    const [admin] = await hre.ethers.getSigners();
    const { meter } = await deployMeter({ grantManager: admin!.address });
    await runTask("meter:tenant", { plainNames: true, action: "register", name: "acme" });
    await runTask("meter:tenant", { plainNames: true, action: "meters", tenant: "1", meters: "api_calls" });

    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ action: "rename", name: "x" }, /^error: --action: must be one of register, meters, authorize, revoke$/],
      [{ name: "x" }, /^error: --action: must be one of register, meters, authorize, revoke$/],
      [{ action: "register" }, /^error: --name is required for "register"$/],
      [{ action: "register", name: "" }, /--name: must not be empty/],
      [{ action: "register", name: "a".repeat(32) }, /--name: "a{32}" is 32 bytes; names are at most 31 bytes/],
      [{ action: "register", name: "ü".repeat(16) }, /is 32 bytes/],
      [{ action: "register", name: " acme" }, /must not start or end with whitespace/],
      [{ action: "register", name: "ac\nme" }, /control characters/],
      [{ action: "register", name: "acme" }, /^error: --name: "acme" is already tenant 1$/],
      [{ action: "meters", tenant: "9", meters: "x" }, /^error: --tenant: tenant 9 does not exist$/],
      [{ action: "meters", tenant: "nobody", meters: "x" }, /^error: --tenant: no tenant named "nobody" in plain text \(pass its --name-key if it was registered pseudonymously\)$/],
      [{ action: "meters", tenant: "0", meters: "x" }, /tenant id 0 is outside/],
      [{ action: "meters", tenant: "1", meters: "a,b,a" }, /--meters: lists the same name twice/],
      [{ action: "meters", tenant: "1", meters: "new,api_calls" }, /already has meter "api_calls" \(id 1\)/],
      [{ action: "meters", tenant: "1", meters: "ok," }, /--meters: must not be empty/],
      [{ action: "meters", tenant: "1" }, /--meters is required for "meters"/],
      [{ action: "authorize", tenant: "1", reporter: "0xnope" }, /--reporter: "0xnope" is not a 0x-prefixed 20-byte address/],
      [{ action: "authorize", tenant: "1", reporter: "0x0000000000000000000000000000000000000000" }, /zero address/],
      [{ action: "revoke", tenant: "1" }, /--reporter is required for "revoke"/],
    ];
    const before = await blockNumber();
    for (const [args, message] of cases) {
      const run = await runTask("meter:tenant", { plainNames: true, ...args });
      expect(run.exitCode, JSON.stringify(args)).to.equal(1);
      expect(run.stderr, JSON.stringify(args)).to.match(message);
      expect(run.stderr.split("\n"), JSON.stringify(args)).to.have.length(1);
    }
    expect(await blockNumber()).to.equal(before);
    expect(await meter.tenantCount()).to.equal(1n);
    expect((await meter.getTenant(1))[1]).to.equal(1n);
  });

  it("prints a multisig proposal when the signer lacks TENANT_MANAGER_ROLE, and the proposal works", async function () {
    const [admin] = await hre.ethers.getSigners();
    const { meter, deployment } = await deployMeter();
    const outsider = await fundedWallet();
    signAs(outsider);
    const before = await blockNumber();

    const run = await runTask<TenantResult>("meter:tenant", { plainNames: true, action: "register", name: "acme" });
    expect(run.exitCode).to.equal(2);
    expect(await blockNumber()).to.equal(before);
    expect(await meter.tenantCount()).to.equal(0n);
    const data = iface.encodeFunctionData("registerTenant", [encodeBytes32String("acme")]);
    expect(run.stdout).to.contain(`signer ${outsider.address} does not hold TENANT_MANAGER_ROLE; nothing was sent.`);
    expect(run.stdout).to.contain("Propose this transaction from an account holding TENANT_MANAGER_ROLE:");
    expect(run.stdout).to.contain(`  to:       ${deployment.address}`);
    expect(run.stdout).to.contain("  value:    0");
    expect(run.stdout).to.contain(`  data:     ${data}`);
    expect(run.stdout).to.contain("  function: registerTenant(bytes32 name)");
    expect(run.stdout).to.match(/name = "acme" \(0x61636d650+\)/);

    // The holder sends exactly the printed transaction.
    await (await meter.grantRole(ROLES.TENANT_MANAGER_ROLE, admin!.address)).wait();
    await (await admin!.sendTransaction({ to: deployment.address, data, value: 0n })).wait();
    expect(await meter.tenantIdByName(encodeBytes32String("acme"))).to.equal(1n);
  });

  it("proposes several meters as one multicall", async function () {
    const [admin] = await hre.ethers.getSigners();
    const { meter, deployment } = await deployMeter({ grantManager: admin!.address });
    await runTask("meter:tenant", { plainNames: true, action: "register", name: "acme" });
    signAs(await fundedWallet());
    const run = await runTask<TenantResult>("meter:tenant", { plainNames: true, action: "meters", tenant: "acme", meters: "a,b" });
    expect(run.exitCode).to.equal(2);
    expect(run.stdout).to.contain("function: multicall(bytes[] data)");
    expect(run.stdout).to.contain('registerMeter(tenantId=1, name="b")');
    const data = run.result.outcome.kind === "proposed" ? run.result.outcome.proposal.data : "0x";
    await (await admin!.sendTransaction({ to: deployment.address, data })).wait();
    expect((await meter.getTenant(1))[1]).to.equal(2n);
  });

  it("says clearly that tenant changes are blocked while paused", async function () {
    const [admin] = await hre.ethers.getSigners();
    const { meter } = await deployMeter({ grantManager: admin!.address, grantPauser: admin!.address });
    await (await meter.pause("drill")).wait();
    const run = await runTask("meter:tenant", { plainNames: true, action: "register", name: "acme" });
    expect(run.exitCode).to.equal(1);
    expect(run.stderr).to.equal(
      "error: UsageMeter is paused, registerTenant is blocked until the admin runs meter:unpause; nothing was sent",
    );
  });

  it("revokes a reporter while paused (the system stays paused) but refuses to authorize one", async function () {
    const [admin, , reporter] = await hre.ethers.getSigners();
    const { meter } = await deployMeter({ grantManager: admin!.address, grantPauser: admin!.address });
    await runTask("meter:tenant", { plainNames: true, action: "register", name: "acme" });
    await runTask("meter:tenant", { action: "authorize", tenant: "acme", reporter: reporter!.address });
    await (await meter.pause("INC-1 reporter key leaked")).wait();

    const authorize = await runTask("meter:tenant", { action: "authorize", tenant: "acme", reporter: admin!.address });
    expect(authorize.exitCode).to.equal(1);
    expect(authorize.stderr).to.match(/paused, authorizeReporter is blocked/);

    const run = await runTask<TenantResult>("meter:tenant", { action: "revoke", tenant: "acme", reporter: reporter!.address });
    expect(run.exitCode).to.equal(0);
    expect(run.stdout).to.contain("revoked from tenant 1");
    expect(await meter.paused()).to.equal(true);
    expect((await meter.getReporter(1, reporter!.address))[0]).to.equal(false);
  });
});
