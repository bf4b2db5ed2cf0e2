import { expect } from "chai";
import hre from "hardhat";
import { hexlify, randomBytes, type Wallet } from "ethers";
import type { AuditReport } from "../../../scripts/audit/chain-audit";
import { reportStatus } from "../../../scripts/audit/chain-audit";
import { packRecord, type PackedRecord } from "../../../chain/record";
import type { UsageMeter } from "../../../scripts/typechain-types";
import { deployMeter, fundedWallet, mineBlocks, runTask, signAs, useTaskEnvironment } from "./support";

const START = 1_600_000_000;

function records(rows: Array<[meterId: number, sequence: number, quantity: number]>): PackedRecord[] {
  return rows.map(([meterId, sequence, quantity]) =>
    packRecord({
      meterId,
      periodStart: START + sequence * 60,
      periodEnd: START + sequence * 60 + 60,
      sequence: BigInt(sequence),
      quantity: BigInt(quantity),
      ref: hexlify(randomBytes(32)) as `0x${string}`,
    }),
  );
}

async function commit(meter: UsageMeter, reporter: Wallet, batch: PackedRecord[]): Promise<{ salt: string; commitment: string }> {
  const salt = hexlify(randomBytes(32));
  const commitment = await meter.commitmentHash(reporter.address, 1, salt, batch);
  await (await meter.connect(reporter).commit(1, commitment)).wait();
  return { salt, commitment };
}

function item(report: AuditReport, section: string, label: string) {
  return report.sections.find((s) => s.id === section)?.items.find((i) => i.label === label);
}

describe("meter:audit", function () {
  useTaskEnvironment();

  it("reports a fresh deployment as clean (exit 0), in text and JSON", async function () {
    const [admin] = await hre.ethers.getSigners();
    const { deployment } = await deployMeter({ adminDelay: "86400" });
    const text = await runTask<AuditReport>("meter:audit");
    expect(text.exitCode).to.equal(0);
    expect(reportStatus(text.result)).to.equal("ok");
    expect(text.stdout).to.contain(`UsageMeter audit: ${deployment.address} on chain 31337`);
    expect(text.stdout).to.contain(`ok        DEFAULT_ADMIN_ROLE: ${admin!.address}`);
    expect(text.stdout).to.contain("ok        paused: no");
    expect(text.stdout).to.contain("ok        reveal window: 1 to 7200 blocks after the commit");
    expect(text.stdout.trim().split("\n").at(-1)).to.equal("Result: clean");

    const json = await runTask("meter:audit", { json: true });
    expect(json.exitCode).to.equal(0);
    const parsed = JSON.parse(json.stdout) as { status: string; sections: Array<{ id: string; status: string }> };
    expect(parsed.status).to.equal("ok");
    expect(parsed.sections.map((s) => s.id)).to.deep.equal(["deployment", "access", "pause", "commitments", "tenants", "usage", "anchor"]);
  });

  it("totals revealed usage per tenant and meter, flags a lapsed commitment until it is expired", async function () {
    const [admin] = await hre.ethers.getSigners();
    const { meter } = await deployMeter({ minRevealDelay: "1", maxRevealDelay: "5", grantManager: admin!.address });
    const reporter = await fundedWallet();
    await runTask("meter:tenant", { plainNames: true, action: "register", name: "acme" });
    await runTask("meter:tenant", { plainNames: true, action: "meters", tenant: "acme", meters: "api_calls,storage" });
    await runTask("meter:tenant", { action: "authorize", tenant: "acme", reporter: reporter.address });

    const batch = records([
      [1, 1, 10],
      [2, 2, 5],
      [1, 3, 7],
    ]);
    const first = await commit(meter, reporter, batch);
    await (await meter.connect(reporter).reveal(1, reporter.address, first.salt, batch)).wait();
    const withheld = await commit(meter, reporter, records([[1, 4, 1000]]));

    const live = await runTask<AuditReport>("meter:audit");
    expect(live.exitCode).to.equal(0);
    expect(item(live.result, "usage", 'tenant 1 meter 1 "api_calls"')?.summary).to.equal("17 over 2 records");
    expect(item(live.result, "usage", 'tenant 1 meter 2 "storage"')?.summary).to.equal("5 over 1 records");
    expect(item(live.result, "usage", 'tenant 1 "acme"')?.summary).to.equal("22 total over 3 records");
    expect(item(live.result, "commitments", "counts")?.details).to.include({ commits: 2, reveals: 1, expiries: 0, outstanding: 1 });
    expect(item(live.result, "commitments", `outstanding ${withheld.commitment}`)?.status).to.equal("ok");
    expect(item(live.result, "tenants", 'tenant 1 "acme"')?.summary).to.equal(
      `meters [1:api_calls, 2:storage], reporters [${reporter.address}]`,
    );

    await mineBlocks(6);
    const lapsed = await runTask<AuditReport>("meter:audit");
    expect(lapsed.exitCode).to.equal(1);
    const flagged = item(lapsed.result, "commitments", `lapsed ${withheld.commitment}`);
    expect(flagged?.status).to.equal("attention");
    expect(flagged?.summary).to.contain(`reporter ${reporter.address}: unrevealed past block`);
    expect(lapsed.stdout).to.contain(`! ATTENTION lapsed ${withheld.commitment}`);
    expect(lapsed.stdout.trim().split("\n").at(-1)).to.equal("Result: 1 item(s) need attention");
    const json = await runTask("meter:audit", { json: true });
    expect(json.exitCode).to.equal(1);
    expect((JSON.parse(json.stdout) as { status: string }).status).to.equal("attention");

    // Anyone may expire it; the audit is clean again and counts the expiry.
    const stranger = await fundedWallet();
    await (await meter.connect(stranger).expire(reporter.address, withheld.commitment)).wait();
    const after = await runTask<AuditReport>("meter:audit");
    expect(after.exitCode).to.equal(0);
    expect(item(after.result, "commitments", "counts")?.details).to.include({ commits: 2, reveals: 1, expiries: 1, outstanding: 0 });

    // An earlier block still shows the lapsed state.
    const past = await runTask<AuditReport>("meter:audit", { block: String(after.result.block.number - 1) });
    expect(past.exitCode).to.equal(1);
  });

  it("flags a paused contract with its reason", async function () {
    const [admin] = await hre.ethers.getSigners();
    const { meter } = await deployMeter({ grantPauser: admin!.address });
    await (await meter.pause("INC-7")).wait();
    const run = await runTask<AuditReport>("meter:audit");
    expect(run.exitCode).to.equal(1);
    expect(item(run.result, "pause", "paused")?.summary).to.match(new RegExp(`^yes, since block \\d+ by ${admin!.address}: "INC-7"$`));
  });

  it("rejects a bad --block", async function () {
    await deployMeter();
    const run = await runTask("meter:audit", { block: "latest-ish" });
    expect(run.exitCode).to.equal(1);
    expect(run.stderr).to.equal('error: --block: "latest-ish" is not a non-negative integer');
    const future = await runTask("meter:audit", { block: "999999" });
    expect(future.exitCode).to.equal(1);
    expect(future.stderr).to.match(/^error: --block: 999999 is beyond the chain head \d+$/);
  });
});

describe("meter:expire", function () {
  useTaskEnvironment();

  it("expires every lapsed commitment in one transaction, after which the audit is clean", async function () {
    const [admin] = await hre.ethers.getSigners();
    const { meter } = await deployMeter({ minRevealDelay: "1", maxRevealDelay: "3", grantManager: admin!.address });
    const reporter = await fundedWallet();
    await runTask("meter:tenant", { plainNames: true, action: "register", name: "acme" });
    await runTask("meter:tenant", { plainNames: true, action: "meters", tenant: "acme", meters: "api_calls" });
    await runTask("meter:tenant", { action: "authorize", tenant: "acme", reporter: reporter.address });
    const a = await commit(meter, reporter, records([[1, 1, 5]]));
    const b = await commit(meter, reporter, records([[1, 2, 5]]));

    const early = await runTask("meter:expire", { reporter: reporter.address, commitment: a.commitment });
    expect(early.exitCode).to.equal(1);
    expect(early.stderr).to.match(/^error: --commitment: still revealable until block \d+ \(head is \d+\)$/);
    expect((await runTask("meter:expire", {})).stderr).to.equal(
      "error: give --reporter and --commitment, or --all for every lapsed commitment",
    );
    expect((await runTask("meter:expire", { reporter: reporter.address, commitment: "0x12" })).stderr).to.match(
      /--commitment: "0x12" is not a 0x-prefixed 32-byte hex value/,
    );

    await mineBlocks(4);
    expect((await runTask("meter:audit")).exitCode).to.equal(1);
    const stranger = await fundedWallet();
    signAs(stranger);
    const run = await runTask<{ expired: Array<{ commitment: string }> }>("meter:expire", { all: true });
    expect(run.exitCode).to.equal(0);
    expect(run.result.expired.map((e) => e.commitment).sort()).to.deep.equal([a.commitment, b.commitment].sort());
    expect((await meter.getCommitment(reporter.address, a.commitment))[0]).to.equal(3n);

    const audit = await runTask<AuditReport>("meter:audit");
    expect(audit.exitCode).to.equal(0);
    expect((await runTask("meter:expire", { all: true })).stdout).to.equal("no lapsed commitments to expire");
    const missing = await runTask("meter:expire", { reporter: reporter.address, commitment: a.commitment });
    expect(missing.stderr).to.match(/no pending commitment/);
  });
});
