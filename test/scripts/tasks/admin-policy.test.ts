import { expect } from "chai";
import hre from "hardhat";
import { existsSync } from "node:fs";
import type { AuditReport } from "../../../scripts/audit/chain-audit";
import { reportStatus } from "../../../scripts/audit/chain-audit";
import { deploymentPath, readDeployment } from "../../../chain/deployment";
import { ROLES } from "../../../chain/roles";
import { chainId, runTask, useTaskEnvironment } from "./support";

// The in-process network is chain 31337, a local chain; `--production` applies the rules of every
// other chain to it (a rehearsal on a fork), which is how these tests reach them.

function item(report: AuditReport, section: string, label: string) {
  return report.sections.find((s) => s.id === section)?.items.find((i) => i.label === label);
}

async function deployWallet(owner: string): Promise<string> {
  const factory = await hre.ethers.getContractFactory("ERC1271WalletMock");
  const wallet = await factory.deploy(owner);
  await wallet.waitForDeployment();
  return wallet.getAddress();
}

describe("meter:deploy admin policy (production rules)", function () {
  useTaskEnvironment();

  it("refuses a single-key admin, says how to use a Safe, and deploys nothing", async function () {
    const [signer] = await hre.ethers.getSigners();
    const nonce = await hre.ethers.provider.getTransactionCount(signer!.address);
    const run = await runTask("meter:deploy", { production: true, adminDelay: "86400" });
    expect(run.exitCode).to.equal(1);
    expect(run.stderr).to.contain(`--admin: ${signer!.address} is an externally owned account`);
    expect(run.stderr).to.contain("Safe");
    expect(run.stderr).to.contain("ERC-1271");
    expect(run.stderr).to.contain("--allow-eoa-admin");
    expect(existsSync(deploymentPath(await chainId()))).to.equal(false);
    expect(await hre.ethers.provider.getTransactionCount(signer!.address)).to.equal(nonce);
  });

  it("refuses an explicit EOA admin too, and a zero admin delay", async function () {
    const [, other] = await hre.ethers.getSigners();
    const eoa = await runTask("meter:deploy", { production: true, adminDelay: "86400", admin: other!.address });
    expect(eoa.exitCode).to.equal(1);
    expect(eoa.stderr).to.contain(`${other!.address} is an externally owned account`);
    const zero = await runTask("meter:deploy", { production: true, adminDelay: "0", admin: await deployWallet(other!.address) });
    expect(zero.exitCode).to.equal(1);
    expect(zero.stderr).to.contain("--admin-delay: 0 is not allowed under --production");
  });

  it("deploys with an ERC-1271 wallet as admin; the audit is clean once a separate pauser is granted from the wallet", async function () {
    const [owner, pauser] = await hre.ethers.getSigners();
    const safe = await deployWallet(owner!.address);
    const run = await runTask("meter:deploy", { production: true, adminDelay: "86400", admin: safe });
    expect(run.exitCode, run.stderr).to.equal(0);
    const d = readDeployment(await chainId());
    expect(d.constructorArgs.admin).to.equal(safe);
    const meter = await hre.ethers.getContractAt("UsageMeter", d.address);
    expect(await meter.defaultAdmin()).to.equal(safe);

    const wallet = await hre.ethers.getContractAt("ERC1271WalletMock", safe, owner);
    const grant = meter.interface.encodeFunctionData("grantRole", [ROLES.PAUSER_ROLE, pauser!.address]);
    await (await wallet.execute(d.address, grant)).wait();

    const audit = await runTask<AuditReport>("meter:audit", { production: true });
    expect(audit.exitCode, audit.stdout).to.equal(0);
    expect(item(audit.result, "access", "default admin")?.summary).to.equal(`${safe} (a contract wallet)`);
    expect(reportStatus(audit.result)).to.equal("ok");
  });

  it("--allow-eoa-admin deploys with a single key and warns; the production audit still marks it", async function () {
    const [signer] = await hre.ethers.getSigners();
    const run = await runTask("meter:deploy", { production: true, allowEoaAdmin: true, adminDelay: "86400", grantPauser: signer!.address });
    expect(run.exitCode, run.stderr).to.equal(0);
    expect(run.stderr).to.contain(`warning: the admin ${signer!.address} is a single key`);

    const audit = await runTask<AuditReport>("meter:audit", { production: true });
    expect(audit.exitCode).to.equal(1);
    expect(item(audit.result, "access", "default admin")?.status).to.equal("attention");
    expect(item(audit.result, "access", "default admin")?.summary).to.contain("is a single key");
    const pauser = item(audit.result, "access", "PAUSER_ROLE");
    expect(pauser?.status).to.equal("attention");
    expect(pauser?.summary).to.contain("is both the admin and a pauser");

    // The same deployment judged as a local development chain needs no attention.
    const local = await runTask<AuditReport>("meter:audit");
    expect(local.exitCode).to.equal(0);
  });

  it("the production audit marks a zero admin delay", async function () {
    const [owner] = await hre.ethers.getSigners();
    const safe = await deployWallet(owner!.address);
    const run = await runTask("meter:deploy", { adminDelay: "0", admin: safe });
    expect(run.exitCode, run.stderr).to.equal(0);
    const audit = await runTask<AuditReport>("meter:audit", { production: true });
    expect(item(audit.result, "access", "admin delay")?.status).to.equal("attention");
    expect(item(audit.result, "access", "default admin")?.status).to.equal("ok");
  });
});
