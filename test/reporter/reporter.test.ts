import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import { createWalletClient, custom } from "viem";
import { InputValidationError, Journal, Reporter, mineUntil, parseUsage, relayPayload, type UsageInput } from "../../reporter";
import { usageMeterAbi } from "../../chain/abi.generated";
import {
  MAX_DELAY,
  committedEvents,
  deployWithTenant,
  hardhatAccount,
  makeReporter,
  revealedUsage,
  silentLogger,
  sum,
  tempDir,
  usageFile,
} from "./helpers";

describe("reporter client", function () {
  describe("input validation", function () {
    it("names every invalid line and accepts ISO and unix times, CSV and JSON Lines", function () {
      const text = [
        `{"tenant":"acme","meter":"api_calls","period_start":"2026-01-01T00:00:00Z","period_end":1767229200,"quantity":5}`,
        `{"tenant":"acme","meter":"api_calls","period_start":10,"period_end":5,"quantity":5}`,
        `not json`,
        `{"tenant":"acme","meter":"api_calls","period_start":1,"period_end":2,"quantity":0}`,
        `{"tenant":"acme","period_start":1,"period_end":2,"quantity":"7","ref":"0x12"}`,
      ].join("\n");
      let error: unknown;
      try {
        parseUsage(text, "jsonl");
      } catch (err) {
        error = err;
      }
      expect(error).to.be.instanceOf(InputValidationError);
      const issues = (error as InputValidationError).issues;
      expect([...new Set(issues.map((i) => i.line))]).to.deep.equal([2, 3, 4, 5]);
      expect((error as Error).message).to.match(/line 2: .*period start must be before period end/);
      expect((error as Error).message).to.match(/line 4: quantity/);
      expect((error as Error).message).to.match(/line 5: meter/);
      expect((error as Error).message).to.match(/line 5: ref/);

      const csv = "tenant_id,meter_id,period_start,period_end,quantity,source_id\n1,2,1700000000,1700000060,42,evt-1\n1,1,2024-01-01,2024-01-02,\"1000000000000000000000\",evt-2\n";
      const rows = parseUsage(csv, "csv");
      expect(rows).to.have.length(2);
      expect(rows[0]).to.include({ line: 2, periodStart: 1_700_000_000, periodEnd: 1_700_000_060, quantity: 42n });
      expect(rows[1]!.quantity).to.equal(10n ** 21n);
      expect(rows[1]!.periodStart).to.equal(Date.UTC(2024, 0, 1) / 1000);
      // Default refs: keccak of the source id, so the same event always carries the same ref.
      expect(rows[0]!.ref).to.equal(parseUsage(csv, "csv")[0]!.ref);
      expect(rows[0]!.ref).to.not.equal(rows[1]!.ref);
    });

    it("submits nothing when any line fails the on-chain checks (unknown tenant or meter)", async function () {
      const reporter = hardhatAccount(3);
      const setup = await deployWithTenant("acme", [reporter.address]);
      const dir = await tempDir("invalid");
      const inputs = parseUsage(
        [
          `{"tenant":"acme","meter":"api_calls","period_start":1700000000,"period_end":1700000060,"quantity":1}`,
          `{"tenant":"acme","meter":"nope","period_start":1700000000,"period_end":1700000060,"quantity":1}`,
          `{"tenant":"globex","meter":"api_calls","period_start":1700000000,"period_end":1700000060,"quantity":1}`,
          `{"tenant":"acme","meter":"api_calls","period_start":1700000000,"period_end":4000000000,"quantity":1}`,
        ].join("\n"),
        "jsonl",
      );
      const client = await makeReporter(setup, 3, dir);
      let error: unknown;
      try {
        await client.submit(inputs);
      } catch (err) {
        error = err;
      }
      expect(error).to.be.instanceOf(InputValidationError);
      expect((error as InputValidationError).issues.map((i) => i.line)).to.deep.equal([2, 3, 4]);
      const journalDir = (await readdir(dir))[0]!;
      expect(await readdir(path.join(dir, journalDir, "jobs"))).to.deep.equal([]);
      expect(await committedEvents(setup)).to.have.length(0);
    });
  });

  describe("submission", function () {
    it("lands every record exactly once, pipelining reveal(k)+commit(k+1), and a rerun is a no-op", async function () {
      const account = hardhatAccount(4);
      const setup = await deployWithTenant("acme", [account.address]);
      const dir = await tempDir("submit");
      const { file, total } = await usageFile(dir, "acme", 23);
      const inputs = parseUsage(await readFile(file, "utf8"), "jsonl");
      const client = await makeReporter(setup, 4, path.join(dir, "journal"), { batchSize: 5 });

      const first = await client.submit(inputs, file);
      expect(first).to.include({ records: 23, batches: 5, revealed: 5, resumed: false, revealedRecords: 23 });
      const revealed = await revealedUsage(setup);
      expect(revealed).to.have.length(5);
      expect(sum(revealed)).to.equal(total);
      const sequences = revealed.flatMap((r) => r.records.map((x) => x.sequence));
      expect(sequences).to.deep.equal(Array.from({ length: 23 }, (_, i) => BigInt(i + 1)));
      expect(new Set(revealed.flatMap((r) => r.records.map((x) => x.ref))).size).to.equal(23);

      // Pipelining: batches 2..5 were committed inside the multicall that revealed their predecessor.
      const commits = await committedEvents(setup);
      expect(commits).to.have.length(5);
      const multicallTxs = new Set(commits.slice(1).map((c) => c.transactionHash));
      expect(multicallTxs.size).to.equal(4);
      const revealLogs = await setup.publicClient.getContractEvents({ address: setup.meter, abi: usageMeterAbi, eventName: "UsageRevealed", fromBlock: 0n });
      expect(revealLogs.slice(0, 4).map((l) => l.transactionHash)).to.deep.equal(commits.slice(1).map((c) => c.transactionHash));

      const again = await client.submit(inputs, file);
      expect(again).to.include({ resumed: true, revealed: 0 });
      expect(await revealedUsage(setup)).to.have.length(5);

      // New usage continues above the high-water mark.
      const more = await usageFile(dir, "acme", 3, "more.jsonl");
      await client.submit(parseUsage(await readFile(more.file, "utf8"), "jsonl"));
      const after = await revealedUsage(setup);
      expect(after.at(-1)!.records.map((r) => r.sequence)).to.deep.equal([24n, 25n, 26n]);
      expect(sum(after)).to.equal(total + more.total);
    });

    it("re-commits under a new salt when a journaled commitment expired unrevealed", async function () {
      const account = hardhatAccount(5);
      const setup = await deployWithTenant("acme", [account.address]);
      const dir = await tempDir("expired");
      const { file, total } = await usageFile(dir, "acme", 4);
      const inputs: UsageInput[] = parseUsage(await readFile(file, "utf8"), "jsonl");
      let crash = true;
      const journal = await Journal.open(path.join(dir, "journal"), { chainId: 31337, meter: setup.meter, reporter: account.address });
      const client = new Reporter({
        publicClient: setup.publicClient,
        walletClient: createWalletClient({ account, transport: custom(hre.network.provider) }),
        account,
        meter: setup.meter,
        journal,
        logger: silentLogger,
        waitForBlock: mineUntil(setup.publicClient),
        afterCommitMined: async () => {
          if (crash) throw new Error("simulated crash after commit");
        },
      });
      await client.submit(inputs).catch((err: Error) => expect(err.message).to.match(/simulated crash/));
      const [firstCommit] = await committedEvents(setup);
      const head = await setup.publicClient.getBlockNumber();
      await mineUntil(setup.publicClient)(head + BigInt(MAX_DELAY) + 1n);
      crash = false;
      const result = await client.run();
      expect(result.revealed).to.equal(1);
      const revealed = await revealedUsage(setup);
      expect(revealed).to.have.length(1);
      expect(sum(revealed)).to.equal(total);
      expect(revealed[0]!.commitment).to.not.equal(firstCommit!.args.commitment);
      const batchFile = (await readdir(path.join(journal.dir, "batches")))[0]!;
      const state = JSON.parse(await readFile(path.join(journal.dir, "batches", batchFile), "utf8")) as { expiredSalts: string[]; status: string };
      expect(state.status).to.equal("revealed");
      expect(state.expiredSalts).to.have.length(1);
    });
  });

  describe("relay", function () {
    it("signs EIP-712 commits that a relayer submits with commitWithSignature, then reveals; relaying twice is a no-op", async function () {
      const reporterAccount = hardhatAccount(6);
      const relayer = hardhatAccount(7);
      const setup = await deployWithTenant("acme", [reporterAccount.address]);
      const dir = await tempDir("relay");
      const { file, total } = await usageFile(dir, "acme", 7);
      const client = await makeReporter(setup, 6, path.join(dir, "journal"), { batchSize: 3, relay: true });
      await client.plan(parseUsage(await readFile(file, "utf8"), "jsonl"));
      const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
      const payload = await client.signRelayPayload(deadline);
      expect(payload.items).to.have.length(3);
      expect(payload.items.map((i) => i.nonce)).to.deep.equal(["0", "1", "2"]);
      // The payload travels as a file; round-trip it through JSON as the task does.
      const payloadFile = path.join(dir, "payload.json");
      await writeFile(payloadFile, JSON.stringify(payload));
      const { parseRelayPayload } = await import("../../reporter");
      const parsed = parseRelayPayload(await readFile(payloadFile, "utf8"));

      const walletClient = createWalletClient({ account: relayer, transport: custom(hre.network.provider) });
      const opts = { publicClient: setup.publicClient, walletClient, logger: silentLogger, waitForBlock: mineUntil(setup.publicClient) };
      expect(await relayPayload(parsed, opts)).to.deep.equal({ committed: 3, revealed: 3, stale: 0 });
      const commits = await committedEvents(setup);
      expect(commits.map((c) => c.args.relayer)).to.deep.equal([relayer.address, relayer.address, relayer.address]);
      expect(commits.map((c) => c.args.reporter)).to.deep.equal([reporterAccount.address, reporterAccount.address, reporterAccount.address]);
      expect(sum(await revealedUsage(setup))).to.equal(total);
      expect(await relayPayload(parsed, opts)).to.deep.equal({ committed: 0, revealed: 0, stale: 0 });

      // A tampered payload (signature for another commitment) is rejected on chain.
      const tampered = { ...parsed, items: [{ ...parsed.items[0]!, commitment: `0x${"11".repeat(32)}` as const }] };
      let error: unknown;
      await relayPayload(tampered, opts).catch((err: unknown) => (error = err));
      expect((error as Error).message).to.match(/InvalidSignature/);
    });
  });
});
