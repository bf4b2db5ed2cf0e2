import { expect } from "chai";
import { readFileSync } from "node:fs";
import hre from "hardhat";
import { Interface } from "ethers";
import { abiHash, deploymentPath, readDeployment } from "../../../chain/deployment";
import { ANCHOR_ROLES } from "../../../chain/roles";
import { invoiceAnchorAbi } from "../../../chain/abi.generated";
import type { AuditReport } from "../../../scripts/audit/chain-audit";
import type { InvoiceAnchor } from "../../../scripts/typechain-types";
import { createTestDatabase } from "../../helpers/database";
import { blockNumber, chainId, deployMeter, fundedWallet, runTask, signAs, useTaskEnvironment } from "./support";

async function anchorAt(address: string): Promise<InvoiceAnchor> {
  const [admin] = await hre.ethers.getSigners();
  return (await hre.ethers.getContractAt("InvoiceAnchor", address, admin)) as unknown as InvoiceAnchor;
}

describe("InvoiceAnchor tasks", function () {
  useTaskEnvironment();

  describe("meter:deploy", function () {
    it("deploys InvoiceAnchor beside UsageMeter and records it in the deployment file", async function () {
      const [signer, , pauser, biller] = await hre.ethers.getSigners();
      const run = await runTask("meter:deploy", { adminDelay: "3600", grantPauser: pauser!.address, grantBiller: biller!.address });
      expect(run.exitCode).to.equal(0);
      const d = readDeployment(await chainId());
      const json = JSON.parse(readFileSync(deploymentPath(await chainId()), "utf8")) as { anchor: Record<string, unknown> };
      expect(Object.keys(json.anchor)).to.deep.equal(["contract", "address", "deployBlock", "deployBlockHash", "txHash", "constructorArgs", "abiHash"]);
      const a = d.anchor!;
      expect(a.contract).to.equal("InvoiceAnchor");
      expect(a.constructorArgs).to.deep.equal({ adminDelay: 3600, admin: signer!.address, usageMeter: d.address });
      const receipt = await hre.ethers.provider.getTransactionReceipt(a.txHash);
      expect(receipt?.contractAddress).to.equal(a.address);
      expect(receipt?.blockNumber).to.equal(a.deployBlock);
      expect((await hre.ethers.provider.getBlock(a.deployBlock))?.hash).to.equal(a.deployBlockHash);
      expect(a.abiHash).to.equal(abiHash(invoiceAnchorAbi));

      const anchor = await anchorAt(a.address);
      expect(await anchor.usageMeter()).to.equal(d.address);
      expect(await anchor.defaultAdmin()).to.equal(signer!.address);
      expect(await anchor.defaultAdminDelay()).to.equal(3600n);
      expect(await anchor.hasRole(ANCHOR_ROLES.BILLER_ROLE, biller!.address)).to.equal(true);
      // The meter's pauser can stop anchoring too.
      expect(await anchor.hasRole(ANCHOR_ROLES.PAUSER_ROLE, pauser!.address)).to.equal(true);
      expect(run.stdout).to.contain(`InvoiceAnchor deployed on chain 31337 at ${a.address}`);
      expect(run.stdout).to.contain(`granted the anchor's BILLER_ROLE to ${biller!.address}`);
    });

    it("--no-anchor deploys UsageMeter alone; the anchor tasks then say there is none", async function () {
      const run = await runTask("meter:deploy", { adminDelay: "0", noAnchor: true });
      expect(run.exitCode).to.equal(0);
      expect(readDeployment(await chainId()).anchor).to.equal(undefined);
      const roles = await runTask("meter:anchor-roles");
      expect(roles.exitCode).to.equal(1);
      expect(roles.stderr).to.match(/^error: the deployment of chain 31337 has no InvoiceAnchor/);
    });

    for (const [what, args, message] of [
      ["a malformed biller", { grantBiller: "billing" }, /^error: --grant-biller: "billing" is not a 0x-prefixed 20-byte address$/],
      ["a biller with --no-anchor", { grantBiller: "0x000000000000000000000000000000000000bEEF", noAnchor: true }, /--grant-biller: there is no anchor/],
      [
        "a biller when the admin is not the signer",
        { admin: "0x000000000000000000000000000000000000dEaD", grantBiller: "0x000000000000000000000000000000000000bEEF" },
        /--grant-biller needs the signer .* to be the admin/,
      ],
    ] as Array<[string, Record<string, unknown>, RegExp]>) {
      it(`rejects ${what} before anything is sent`, async function () {
        const before = await blockNumber();
        const run = await runTask("meter:deploy", { adminDelay: "0", ...args });
        expect(run.exitCode).to.equal(1);
        expect(run.stderr).to.match(message);
        expect(await blockNumber()).to.equal(before);
      });
    }
  });

  describe("meter:anchor-deploy", function () {
    it("adds InvoiceAnchor to an existing UsageMeter deployment, once (unless --force)", async function () {
      const biller = await fundedWallet();
      const { deployment } = await deployMeter({ noAnchor: true });
      const run = await runTask("meter:anchor-deploy", { adminDelay: "0", grantBiller: biller.address });
      expect(run.exitCode, run.stderr).to.equal(0);
      const d = readDeployment(await chainId());
      expect(d.address).to.equal(deployment.address);
      expect(d.anchor!.constructorArgs.usageMeter).to.equal(deployment.address);
      const anchor = await anchorAt(d.anchor!.address);
      expect(await anchor.usageMeter()).to.equal(deployment.address);
      expect(await anchor.hasRole(ANCHOR_ROLES.BILLER_ROLE, biller.address)).to.equal(true);

      const before = await blockNumber();
      const again = await runTask("meter:anchor-deploy", { adminDelay: "0" });
      expect(again.exitCode).to.equal(1);
      expect(again.stderr).to.match(/^error: chain 31337 already has InvoiceAnchor at 0x[0-9a-fA-F]{40}; pass --force/);
      expect(await blockNumber()).to.equal(before);
      const forced = await runTask("meter:anchor-deploy", { adminDelay: "0", force: true });
      expect(forced.exitCode).to.equal(0);
      expect(readDeployment(await chainId()).anchor!.address).to.not.equal(d.anchor!.address);
    });
  });

  describe("roles and pause", function () {
    it("grants and revokes BILLER_ROLE, lists holders, refuses a repeat; required params are required", async function () {
      const { deployment } = await deployMeter();
      const anchor = await anchorAt(deployment.anchor!.address);
      const biller = await fundedWallet();
      for (const name of ["meter:anchor-grant", "meter:anchor-revoke"]) {
        const params = hre.tasks[name]!.paramDefinitions;
        expect(params.role!.isOptional, `${name} --role`).to.equal(false);
        expect(params.account!.isOptional, `${name} --account`).to.equal(false);
        expect(String(await runTask(name, { role: "biller" }).catch((e: Error) => e))).to.match(/HH306.*account/);
      }

      const granted = await runTask("meter:anchor-grant", { role: "biller", account: biller.address });
      expect(granted.exitCode).to.equal(0);
      expect(granted.stdout).to.contain(`granted the anchor's BILLER_ROLE to ${biller.address}`);
      expect(await anchor.hasRole(ANCHOR_ROLES.BILLER_ROLE, biller.address)).to.equal(true);
      // The UsageMeter is untouched: BILLER_ROLE is the anchor's alone.
      const [admin] = await hre.ethers.getSigners();
      const meter = await hre.ethers.getContractAt("UsageMeter", deployment.address, admin);
      expect(await meter.hasRole(ANCHOR_ROLES.BILLER_ROLE, biller.address)).to.equal(false);

      const again = await runTask("meter:anchor-grant", { role: "BILLER_ROLE", account: biller.address });
      expect(again.exitCode).to.equal(1);
      expect(again.stderr).to.equal(`error: ${biller.address} already holds the anchor's BILLER_ROLE`);

      const listed = await runTask<{ holders: Record<string, string[]>; paused: boolean }>("meter:anchor-roles");
      expect(listed.exitCode).to.equal(0);
      expect(listed.result.holders.BILLER_ROLE).to.deep.equal([biller.address]);
      expect(listed.result.paused).to.equal(false);

      const revoked = await runTask("meter:anchor-revoke", { role: "biller", account: biller.address });
      expect(revoked.exitCode).to.equal(0);
      expect(await anchor.hasRole(ANCHOR_ROLES.BILLER_ROLE, biller.address)).to.equal(false);
      const bad = await runTask("meter:anchor-grant", { role: "TENANT_MANAGER_ROLE", account: biller.address });
      expect(bad.exitCode).to.equal(1);
      expect(bad.stderr).to.equal('error: --role: unknown role "TENANT_MANAGER_ROLE" (BILLER_ROLE or PAUSER_ROLE)');
    });

    it("a signer without the admin role gets the grant transaction to propose (exit 2), nothing sent", async function () {
      const { deployment } = await deployMeter();
      const outsider = await fundedWallet();
      signAs(outsider);
      const run = await runTask("meter:anchor-grant", { role: "biller", account: outsider.address });
      expect(run.exitCode).to.equal(2);
      expect(run.stdout).to.contain(`to:       ${deployment.anchor!.address}`);
      expect(run.stdout).to.contain(`data:     ${new Interface(invoiceAnchorAbi).encodeFunctionData("grantRole", [ANCHOR_ROLES.BILLER_ROLE, outsider.address])}`);
      expect(await (await anchorAt(deployment.anchor!.address)).hasRole(ANCHOR_ROLES.BILLER_ROLE, outsider.address)).to.equal(false);
    });

    it("a pauser pauses the anchor (not the meter); only the admin unpauses; meter:audit reports both", async function () {
      const pauser = await fundedWallet();
      const biller = await fundedWallet();
      const { deployment, meter } = await deployMeter({ grantPauser: pauser.address, grantBiller: biller.address });
      const anchor = await anchorAt(deployment.anchor!.address);

      signAs(pauser);
      const paused = await runTask("meter:anchor-pause");
      expect(paused.exitCode).to.equal(0);
      expect(await anchor.paused()).to.equal(true);
      expect(await meter.paused()).to.equal(false);
      const twice = await runTask("meter:anchor-pause");
      expect(twice.stderr).to.equal("error: InvoiceAnchor is already paused");
      const byPauser = await runTask("meter:anchor-unpause");
      expect(byPauser.exitCode).to.equal(2);
      expect(byPauser.stdout).to.contain(`signer ${pauser.address} does not hold DEFAULT_ADMIN_ROLE`);

      signAs(undefined);
      const audit = await runTask<AuditReport>("meter:audit");
      expect(audit.exitCode).to.equal(1);
      const section = audit.result.sections.find((s) => s.id === "anchor")!;
      const byLabel = (label: string) => section.items.find((i) => i.label === label)!;
      expect(byLabel("anchor paused").status).to.equal("attention");
      expect(byLabel("anchor BILLER_ROLE").summary).to.equal(biller.address);
      expect(byLabel("anchor PAUSER_ROLE").summary).to.equal(pauser.address);
      expect(audit.stdout).to.contain("InvoiceAnchor [attention]");

      const unpaused = await runTask("meter:anchor-unpause");
      expect(unpaused.exitCode).to.equal(0);
      expect(await anchor.paused()).to.equal(false);
      const clean = await runTask<AuditReport>("meter:audit");
      expect(clean.exitCode).to.equal(0);
      expect(clean.stdout).to.contain("ok        anchor paused: no");
      expect(clean.stdout).to.contain(`ok        anchor BILLER_ROLE: ${biller.address}`);
    });
  });

  it("meter:audit --database adds billing's anchoring, database against anchor", async function () {
    await deployMeter();
    const db = await createTestDatabase();
    try {
      const run = await runTask<AuditReport>("meter:audit", { database: db.url });
      const section = run.result.sections.find((s) => s.id === "anchoring")!;
      expect(section.items.map((i) => [i.label, i.status, i.summary])).to.deep.equal([
        ["documents", "ok", "all 0 finalized invoice(s) and credit note(s) are anchored"],
        ["plan versions", "ok", "0 of 0 anchored"],
      ]);
      expect(run.stdout).to.contain("Billing anchoring (database vs InvoiceAnchor) [ok]");
    } finally {
      await db.drop();
    }
  });
});
