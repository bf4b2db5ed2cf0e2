import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import { createPublicClient, custom, keccak256, stringToHex, type EIP1193RequestFn, type Hex } from "viem";
import { ZERO_REF, parseUsage } from "../../reporter";
import {
  committedEvents,
  deployWithTenant,
  hardhatAccount,
  makeReporter,
  recordingLogger,
  revealedUsage,
  tempDir,
  usageLines,
} from "./helpers";

const ids = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `evt-${from + i}`);
const refOf = (id: string): Hex => keccak256(stringToHex(id));

async function landedRefs(setup: Parameters<typeof revealedUsage>[0]): Promise<Hex[]> {
  return (await revealedUsage(setup)).flatMap((r) => r.records.map((x) => x.ref));
}

describe("reporter idempotency keys", function () {
  it("submits an event found in two input files once, skips repeats within a file, and says so in one summary line", async function () {
    const setup = await deployWithTenant("acme", [hardhatAccount(11).address]);
    const dir = await tempDir("idem-files");
    const logger = recordingLogger();
    const client = await makeReporter(setup, 11, path.join(dir, "journal"), { batchSize: 4, logger });

    const first = await client.submit(parseUsage(usageLines("acme", ids(1, 6)), "jsonl"), "a.jsonl");
    expect(first).to.include({ records: 6, skipped: 0, revealedRecords: 6 });

    // Lines 1-3 were in the first file, line 7 repeats line 6 of this one.
    const second = await client.submit(parseUsage(usageLines("acme", [...ids(4, 9), "evt-9"]), "jsonl"), "b.jsonl");
    expect(second).to.include({ records: 7, skipped: 4, revealedRecords: 3 });

    const refs = await landedRefs(setup);
    expect(refs).to.have.length(9);
    expect(new Set(refs)).to.deep.equal(new Set(ids(1, 9).map(refOf)));
    const summaries = logger.messages.filter((m) => m.msg.startsWith("skipped"));
    expect(summaries).to.have.length(1);
    expect(summaries[0]!.msg).to.match(/^skipped 4 line\(s\) .*\(3 on chain or pending, 1 repeated in this input\): lines 1, 2, 3, 7$/);
  });

  it("after the journal is deleted, re-running the same file submits nothing; the scan is cached and a rerun reads only new blocks", async function () {
    const setup = await deployWithTenant("acme", [hardhatAccount(12).address]);
    const dir = await tempDir("idem-lost");
    const journal = path.join(dir, "journal");
    const inputs = parseUsage(usageLines("acme", ids(1, 10)), "jsonl");
    await (await makeReporter(setup, 12, journal, { batchSize: 3 })).submit(inputs);
    const commits = (await committedEvents(setup)).length;
    expect(commits).to.equal(4);

    await rm(journal, { recursive: true });
    const again = await (await makeReporter(setup, 12, journal, { batchSize: 3 })).submit(inputs);
    expect(again).to.include({ resumed: false, records: 10, skipped: 10, batches: 0, revealed: 0 });
    expect(await committedEvents(setup)).to.have.length(commits);
    expect(await landedRefs(setup)).to.have.length(10);

    // The scan is in the journal, up to the head (the in-process chain finalizes every block).
    const [scope] = await import("node:fs/promises").then((fs) => fs.readdir(journal));
    const cache = path.join(journal, scope!, "keys", `${setup.tenantId}.jsonl`);
    const segments = (await readFile(cache, "utf8")).trim().split("\n").map((l) => JSON.parse(l) as { from: string; to: string; refs: Hex[] });
    const cachedTo = BigInt(segments.at(-1)!.to);
    expect(cachedTo).to.equal(await setup.publicClient.getBlockNumber());
    expect(new Set(segments.flatMap((s) => s.refs))).to.deep.equal(new Set(ids(1, 10).map(refOf)));

    // A rerun with new usage (some blocks later) asks the node only for blocks after the cached range.
    for (let i = 0; i < 5; i++) await hre.network.provider.request({ method: "evm_mine", params: [] });
    const scanned: bigint[] = [];
    const request: EIP1193RequestFn = async (args) => {
      if (args.method === "eth_getLogs") scanned.push(BigInt((args.params as [{ fromBlock: Hex }])[0].fromBlock));
      return hre.network.provider.request(args as never) as never;
    };
    const publicClient = createPublicClient({ transport: custom({ request }) });
    const third = await (await makeReporter(setup, 12, journal, { batchSize: 3, publicClient })).submit(
      parseUsage(usageLines("acme", ids(8, 12)), "jsonl"),
    );
    expect(third).to.include({ skipped: 3, revealedRecords: 2 });
    expect(scanned[0]).to.equal(cachedTo + 1n);
    expect(scanned.every((from) => from > cachedTo)).to.equal(true);
    expect(await landedRefs(setup)).to.have.length(12);
  });

  it("a second reporter of the same tenant cannot resubmit the first one's keys, even ones that land after it planned", async function () {
    const a = hardhatAccount(13);
    const b = hardhatAccount(14);
    const setup = await deployWithTenant("acme", [a.address, b.address]);
    const dir = await tempDir("idem-two");
    const reporterA = await makeReporter(setup, 13, path.join(dir, "journal-a"), { batchSize: 4 });
    const reporterB = await makeReporter(setup, 14, path.join(dir, "journal-b"), { batchSize: 4 });

    await reporterA.submit(parseUsage(usageLines("acme", ids(1, 5)), "jsonl"));
    const same = await reporterB.submit(parseUsage(usageLines("acme", ids(1, 5)), "jsonl"));
    expect(same).to.include({ skipped: 5, batches: 0, revealed: 0 });

    // B plans 6..9 and 10..13; before B sends anything, A submits 9..11. Each of B's batches is
    // checked again before its first commit (the second inside the pipelined reveal+commit).
    await reporterB.plan(parseUsage(usageLines("acme", ids(6, 13)), "jsonl"));
    await reporterA.submit(parseUsage(usageLines("acme", ids(9, 11)), "jsonl"));
    const run = await reporterB.run();
    expect(run).to.include({ replanned: 2, revealed: 2, revealedRecords: 5 });

    const revealed = await revealedUsage(setup);
    const refs = revealed.flatMap((r) => r.records.map((x) => x.ref));
    expect(refs).to.have.length(13);
    expect(new Set(refs)).to.deep.equal(new Set(ids(1, 13).map(refOf)));
    const byB = revealed.filter((r) => r.reporter === b.address).flatMap((r) => r.records);
    expect(byB.map((r) => r.ref)).to.deep.equal([...ids(6, 8), ...ids(12, 13)].map(refOf));
  });

  it("never deduplicates the zero ref: every such line is submitted, again after the journal is lost", async function () {
    const setup = await deployWithTenant("acme", [hardhatAccount(15).address]);
    const dir = await tempDir("idem-zero");
    const journal = path.join(dir, "journal");
    const line = (minute: number) =>
      JSON.stringify({ tenant: "acme", meter: "api_calls", period_start: 1_700_000_000 + minute * 60, period_end: 1_700_000_060 + minute * 60, quantity: 3, ref: ZERO_REF });
    const keyed = JSON.stringify({ tenant: "acme", meter: "storage_gb", period_start: 1_700_000_000, period_end: 1_700_000_060, quantity: 1, source_id: "k" });
    // Two identical zero-ref lines, one keyed line repeated.
    const text = [line(1), line(1), line(2), keyed, keyed].join("\n");

    const first = await (await makeReporter(setup, 15, journal)).submit(parseUsage(text, "jsonl"));
    expect(first).to.include({ records: 5, skipped: 1, revealedRecords: 4 });
    await rm(journal, { recursive: true });
    const second = await (await makeReporter(setup, 15, journal)).submit(parseUsage(text, "jsonl"));
    expect(second).to.include({ records: 5, skipped: 2, revealedRecords: 3 });

    const refs = await landedRefs(setup);
    expect(refs.filter((r) => r === ZERO_REF)).to.have.length(6);
    expect(refs.filter((r) => r === refOf("k"))).to.have.length(1);
  });
});
