import { readFile } from "node:fs/promises";
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import { createWalletClient, custom, type Hex } from "viem";
import { usageMeterAbi } from "../../chain/abi.generated";
import { decodeRecordWord } from "../../chain/record";
import { decodeRevert } from "../../chain/revert";
import { mineUntil, parseRelayPayload, parseUsage, relayPayload, type RelayItem, type RelayPayload, type Reporter } from "../../reporter";
import {
  MIN_DELAY,
  deployWithTenant,
  hardhatAccount,
  makeReporter,
  revealedUsage,
  silentLogger,
  sum,
  tempDir,
  usageFile,
  type MeterSetup,
} from "./helpers";

const RELAYER = 17;

/** A relayer that does as it pleases with a payload: here, commits everything and reveals in the order it likes. */
function adversary(setup: MeterSetup) {
  const wallet = createWalletClient({ account: hardhatAccount(RELAYER), transport: custom(hre.network.provider) });
  const send = async (functionName: "commitWithSignature" | "reveal", args: readonly unknown[]) => {
    const hash = await wallet.writeContract({ address: setup.meter, abi: usageMeterAbi, functionName, args: args as never, chain: null });
    const receipt = await setup.publicClient.waitForTransactionReceipt({ hash });
    expect(receipt.status).to.equal("success");
  };
  const revealArgs = (payload: RelayPayload, item: RelayItem) =>
    [item.tenantId, payload.reporter, item.salt, item.records.map((r) => ({ packed: BigInt(r.packed), ref: r.ref }))] as const;
  return {
    async commitAll(payload: RelayPayload) {
      for (const item of payload.items) {
        await send("commitWithSignature", [payload.reporter, item.tenantId, item.commitment, BigInt(item.deadline!), item.signature!]);
      }
      await mineUntil(setup.publicClient)((await setup.publicClient.getBlockNumber({ cacheTime: 0 })) + BigInt(MIN_DELAY));
    },
    reveal: (payload: RelayPayload, item: RelayItem) => send("reveal", revealArgs(payload, item)),
    /** The revert reason a reveal of `item` would get now. */
    async revealRevert(payload: RelayPayload, item: RelayItem): Promise<string | undefined> {
      try {
        await setup.publicClient.simulateContract({
          account: wallet.account,
          address: setup.meter,
          abi: usageMeterAbi,
          functionName: "reveal",
          args: revealArgs(payload, item),
        });
        return undefined;
      } catch (err) {
        return decodeRevert(err);
      }
    },
  };
}

async function signedPayload(client: Reporter): Promise<RelayPayload> {
  // Through JSON, as the payload travels to the relayer as a file.
  const payload = await client.signRelayPayload(BigInt(Math.floor(Date.now() / 1000) + 3600));
  return parseRelayPayload(JSON.stringify(payload));
}

const sequences = (item: RelayItem) => item.records.map((r) => decodeRecordWord(BigInt(r.packed)).sequence);

async function expectEachRecordOnce(setup: MeterSetup, file: string, total: bigint): Promise<void> {
  const expected = parseUsage(await readFile(file, "utf8"), "jsonl").map((u) => u.ref.toLowerCase());
  const revealed = await revealedUsage(setup);
  const refs = revealed.flatMap((r) => r.records.map((x) => x.ref.toLowerCase()));
  expect(refs).to.have.length(expected.length);
  expect(new Set(refs)).to.deep.equal(new Set(expected));
  expect(sum(revealed)).to.equal(total);
}

describe("relay safety: reveals in any order", function () {
  it("a relayer reveals batch k+1 before batch k: k is renumbered into the next payload and every record lands exactly once", async function () {
    const setup = await deployWithTenant("acme", [hardhatAccount(16).address]);
    const dir = await tempDir("relay-order");
    const { file, total } = await usageFile(dir, "acme", 9);
    const client = await makeReporter(setup, 16, path.join(dir, "journal"), { batchSize: 3, relay: true });
    await client.plan(parseUsage(await readFile(file, "utf8"), "jsonl"));
    const payload = await signedPayload(client);
    expect(payload.items.map(sequences)).to.deep.equal([[1n, 2n, 3n], [4n, 5n, 6n], [7n, 8n, 9n]]);

    const evil = adversary(setup);
    await evil.commitAll(payload);
    await evil.reveal(payload, payload.items[1]!);
    // Batch k can never be revealed as planned now, by anyone.
    expect(await evil.revealRevert(payload, payload.items[0]!)).to.match(/^SequenceNotIncreasing\(/);

    // An honest relayer handed the same payload reveals what can still land and reports the rest.
    const relayer = createWalletClient({ account: hardhatAccount(RELAYER), transport: custom(hre.network.provider) });
    const opts = { publicClient: setup.publicClient, walletClient: relayer, logger: silentLogger, waitForBlock: mineUntil(setup.publicClient) };
    expect(await relayPayload(payload, opts)).to.deep.equal({ committed: 0, revealed: 1, stale: 1 });

    // The reporter's next payload carries batch k again: same refs, sequences above the mark, new commitment.
    const next = await signedPayload(client);
    expect(next.items).to.have.length(1);
    const [renumbered] = next.items as [RelayItem];
    expect(renumbered.records.map((r) => r.ref)).to.deep.equal(payload.items[0]!.records.map((r) => r.ref));
    expect(sequences(renumbered)).to.deep.equal([10n, 11n, 12n]);
    expect(renumbered.commitment).to.not.equal(payload.items[0]!.commitment);
    expect(renumbered.salt).to.not.equal(payload.items[0]!.salt);
    expect(renumbered.nonce).to.equal("3");
    expect(await relayPayload(next, opts)).to.deep.equal({ committed: 1, revealed: 1, stale: 0 });

    await expectEachRecordOnce(setup, file, total);
    expect((await signedPayload(client)).items).to.deep.equal([]);
    // The old plan stays dead: sequences never go down.
    expect(await evil.revealRevert(payload, payload.items[0]!)).to.match(/^SequenceNotIncreasing\(/);
  });

  it("a reporter with a wallet renumbers batches passed by out-of-order reveals, also one that races its own reveal", async function () {
    const setup = await deployWithTenant("acme", [hardhatAccount(18).address]);
    const dir = await tempDir("relay-order-run");
    const journal = path.join(dir, "journal");
    const { file, total } = await usageFile(dir, "acme", 12);
    const signer = await makeReporter(setup, 18, journal, { batchSize: 3, relay: true });
    await signer.plan(parseUsage(await readFile(file, "utf8"), "jsonl"));
    const payload = await signedPayload(signer);
    expect(payload.items).to.have.length(4);
    const evil = adversary(setup);
    await evil.commitAll(payload);
    // Batch 2 before the reporter looks: batch 1 is passed when the reporter reads the chain.
    await evil.reveal(payload, payload.items[1]!);

    // Batch 4 once the reporter has read the chain and waits to reveal batch 3, so its own
    // reveal of batch 3 hits SequenceNotIncreasing.
    let raced = false;
    const mine = mineUntil(setup.publicClient);
    const waitForBlock = async (block: bigint) => {
      if (!raced) {
        raced = true;
        await evil.reveal(payload, payload.items[3]!);
      }
      await mine(block);
    };
    const client = await makeReporter(setup, 18, journal, { batchSize: 3, waitForBlock });
    const run = await client.run();
    expect(raced).to.equal(true);
    expect(run).to.include({ revealed: 2, revealedRecords: 6, alreadyRevealed: 2, replanned: 2 });

    await expectEachRecordOnce(setup, file, total);
    const mine2 = (await revealedUsage(setup)).filter((r) => r.records[0]!.sequence > 12n);
    expect(mine2.map((r) => r.records.map((x) => x.sequence))).to.deep.equal([[13n, 14n, 15n], [16n, 17n, 18n]]);
    expect(mine2.map((r) => r.records.map((x) => x.ref as Hex))).to.deep.equal([0, 2].map((i) => payload.items[i]!.records.map((x) => x.ref)));
    expect(await client.run()).to.include({ revealed: 0, replanned: 0 });
  });
});
