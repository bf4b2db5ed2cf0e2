import { expect } from "chai";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import hre from "hardhat";
import { keccak256, toUtf8Bytes } from "ethers";
import {
  abiHash,
  deploymentPath,
  parseDeployment,
  readDeployment,
  DeploymentFileError,
} from "../../../chain/deployment";
import { ROLES } from "../../../chain/roles";
import { usageMeterAbi } from "../../../chain/abi.generated";
import { blockNumber, chainId, deployMeter, runTask, useTaskEnvironment } from "./support";

describe("meter:deploy", function () {
  useTaskEnvironment();

  it("deploys and writes deployments/<chainId>.json in the documented format", async function () {
    const [signer, manager, pauser] = await hre.ethers.getSigners();
    const run = await runTask("meter:deploy", {
      adminDelay: "3600",
      minRevealDelay: "2",
      maxRevealDelay: "100",
      grantManager: manager!.address,
      grantPauser: pauser!.address,
    });
    expect(run.exitCode).to.equal(0);
    const id = await chainId();
    const file = deploymentPath(id);
    expect(run.stdout).to.contain(file);

    const raw = readFileSync(file, "utf8");
    const json = JSON.parse(raw) as Record<string, unknown>;
    expect(Object.keys(json)).to.deep.equal([
      "chainId",
      "contract",
      "address",
      "deployBlock",
      "deployBlockHash",
      "txHash",
      "constructorArgs",
      "abiHash",
      "anchor",
    ]);
    expect(Object.keys(json.constructorArgs as object)).to.deep.equal(["adminDelay", "admin", "minRevealDelay", "maxRevealDelay"]);

    const d = readDeployment(id);
    expect(d.chainId).to.equal(31337);
    expect(d.contract).to.equal("UsageMeter");
    expect(d.constructorArgs).to.deep.equal({ adminDelay: 3600, admin: signer!.address, minRevealDelay: 2, maxRevealDelay: 100 });

    const receipt = await hre.ethers.provider.getTransactionReceipt(d.txHash);
    expect(receipt?.contractAddress).to.equal(d.address);
    expect(receipt?.blockNumber).to.equal(d.deployBlock);
    expect((await hre.ethers.provider.getBlock(d.deployBlock))?.hash).to.equal(d.deployBlockHash);

    const artifact = await hre.artifacts.readArtifact("UsageMeter");
    expect(d.abiHash).to.equal(keccak256(toUtf8Bytes(JSON.stringify(artifact.abi))));
    expect(abiHash(usageMeterAbi)).to.equal(d.abiHash);

    const meter = await hre.ethers.getContractAt("UsageMeter", d.address);
    expect(await meter.defaultAdmin()).to.equal(signer!.address);
    expect(await meter.defaultAdminDelay()).to.equal(3600n);
    expect(await meter.MIN_REVEAL_DELAY()).to.equal(2n);
    expect(await meter.MAX_REVEAL_DELAY()).to.equal(100n);
    expect(await meter.hasRole(ROLES.TENANT_MANAGER_ROLE, manager!.address)).to.equal(true);
    expect(await meter.hasRole(ROLES.PAUSER_ROLE, pauser!.address)).to.equal(true);
  });

  it("defaults to the signer as admin, one day of admin delay and a 1..7200 block window", async function () {
    const run = await runTask("meter:deploy", {});
    expect(run.exitCode).to.equal(0);
    const d = readDeployment(await chainId());
    const [signer] = await hre.ethers.getSigners();
    expect(d.constructorArgs).to.deep.equal({ adminDelay: 86400, admin: signer!.address, minRevealDelay: 1, maxRevealDelay: 7200 });
  });

  it("refuses to replace a live deployment unless --force", async function () {
    const { deployment } = await deployMeter();
    const again = await runTask("meter:deploy", { adminDelay: "0" });
    expect(again.exitCode).to.equal(1);
    expect(again.stderr).to.match(/already has UsageMeter at .*--force/);
    expect(readDeployment(await chainId()).address).to.equal(deployment.address);

    const forced = await runTask("meter:deploy", { adminDelay: "0", force: true });
    expect(forced.exitCode).to.equal(0);
    expect(readDeployment(await chainId()).address).to.not.equal(deployment.address);
  });

  const badInputs: Array<[string, Record<string, unknown>, RegExp]> = [
    ["a malformed admin", { admin: "0x1234" }, /^error: --admin: "0x1234" is not a 0x-prefixed 20-byte address$/],
    ["the zero admin", { admin: "0x0000000000000000000000000000000000000000" }, /--admin: the zero address/],
    ["a negative delay", { adminDelay: "-1" }, /--admin-delay: "-1" is not a non-negative integer/],
    ["a fractional delay", { adminDelay: "1.5" }, /--admin-delay: "1.5" is not a non-negative integer/],
    ["a delay above uint48", { adminDelay: (1n << 48n).toString() }, /--admin-delay: must be at most/],
    ["a zero minimum reveal delay", { minRevealDelay: "0" }, /--min-reveal-delay: must be at least 1 block/],
    ["max <= min", { minRevealDelay: "10", maxRevealDelay: "10" }, /--max-reveal-delay: must be greater than --min-reveal-delay \(10\)/],
    ["a non-numeric window", { maxRevealDelay: "lots" }, /--max-reveal-delay: "lots" is not a non-negative integer/],
    ["a bad grantee", { grantPauser: "pauser" }, /--grant-pauser: "pauser" is not/],
    [
      "grants when the admin is not the signer",
      { admin: "0x000000000000000000000000000000000000dEaD", grantManager: "0x000000000000000000000000000000000000bEEF" },
      /need the signer .* to be the admin/,
    ],
  ];
  for (const [what, args, message] of badInputs) {
    it(`rejects ${what} with one line, exit 1 and no transaction`, async function () {
      const before = await blockNumber();
      const run = await runTask("meter:deploy", { adminDelay: "0", ...args });
      expect(run.exitCode).to.equal(1);
      expect(run.stderr).to.match(message);
      expect(run.stderr.split("\n")).to.have.length(1);
      expect(await blockNumber()).to.equal(before);
      expect(existsSync(deploymentPath(await chainId()))).to.equal(false);
    });
  }

  it("rejects a malformed or mismatched deployment file with a typed error", async function () {
    await deployMeter();
    const file = deploymentPath(await chainId());
    const good = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    expect(() => parseDeployment({ ...good, address: "0x12" })).to.throw(DeploymentFileError, /invalid address/);
    expect(() => parseDeployment({ ...good, extra: 1 })).to.throw(DeploymentFileError);
    writeFileSync(file, JSON.stringify({ ...good, chainId: 1 }));
    expect(() => readDeployment(31337)).to.throw(DeploymentFileError, /records chain 1, expected 31337/);
    writeFileSync(file, "{not json");
    const roles = await runTask("meter:roles", { action: "list" });
    expect(roles.exitCode).to.equal(1);
    expect(roles.stderr).to.match(/^error: .*31337\.json: not valid JSON/);
  });
});
