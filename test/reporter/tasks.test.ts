import { writeFile } from "node:fs/promises";
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import { committedEvents, deployWithTenant, hardhatAccount, hardhatKey, revealedUsage, tempDir } from "./helpers";

/** Runs a task with METERLINE_REPORTER_KEY set only for its duration. */
async function withKey<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const previous = process.env.METERLINE_REPORTER_KEY;
  process.env.METERLINE_REPORTER_KEY = key;
  try {
    return await fn();
  } finally {
    if (previous === undefined) delete process.env.METERLINE_REPORTER_KEY;
    else process.env.METERLINE_REPORTER_KEY = previous;
  }
}

describe("meter:submit and meter:relay tasks", function () {
  it("meter:submit lands a CSV file once; --relay writes a payload that meter:relay submits from the node's account", async function () {
    const reporter = hardhatAccount(10);
    const setup = await deployWithTenant("acme", [reporter.address]);
    const dir = await tempDir("tasks");
    const csv = path.join(dir, "usage.csv");
    await writeFile(
      csv,
      "tenant,meter,period_start,period_end,quantity,source_id\nacme,api_calls,1700000000,1700000060,40,a\nacme,storage_gb,1700000000,1700000060,2,b\n",
    );
    const journal = path.join(dir, "journal");
    const first = await withKey(hardhatKey(10), () => hre.run("meter:submit", { input: csv, meter: setup.meter, journal, resume: false }));
    expect(first).to.include({ mode: "submit", records: 2, revealed: 1, revealedRecords: 2 });
    const again = await withKey(hardhatKey(10), () => hre.run("meter:submit", { input: csv, meter: setup.meter, journal, resume: false }));
    expect(again).to.include({ resumed: true, revealed: 0 });

    const jsonl = path.join(dir, "more.jsonl");
    await writeFile(jsonl, `${JSON.stringify({ tenant: 1, meter: 1, period_start: "2023-11-14T22:13:20Z", period_end: 1700000060, quantity: "5" })}\n`);
    const payloadFile = path.join(dir, "payload.json");
    const relayOut = await withKey(hardhatKey(10), () =>
      hre.run("meter:submit", { input: jsonl, meter: setup.meter, journal, relay: payloadFile, resume: false }),
    );
    expect(relayOut).to.include({ mode: "relay", items: 1, signed: 1 });
    const relayed = await hre.run("meter:relay", { payload: payloadFile });
    expect(relayed).to.deep.equal({ committed: 1, revealed: 1, stale: 0 });

    const commits = await committedEvents(setup);
    expect(commits.at(-1)!.args.relayer).to.not.equal(reporter.address);
    const records = (await revealedUsage(setup)).flatMap((r) => r.records);
    expect(records.map((r) => r.quantity)).to.deep.equal([40n, 2n, 5n]);
    expect(records.map((r) => r.sequence)).to.deep.equal([1n, 2n, 3n]);
  });
});
