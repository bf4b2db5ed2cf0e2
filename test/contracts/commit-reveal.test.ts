import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, mineUpTo, time } from "@nomicfoundation/hardhat-network-helpers";
import type { TransactionReceipt } from "ethers";
import { anyValue } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import { commitmentHash, type PackedRecord } from "../../chain/record";
import {
  MAX_DELAY,
  METER_CALLS,
  METER_STORAGE,
  MIN_DELAY,
  TENANT_A,
  TENANT_B,
  commitAndAge,
  commitRecords,
  meterFixture,
  name32,
  plain,
  randomSalt,
  record,
  records,
  revealedRecords,
  twoMetersFixture,
} from "./fixtures";

const Status = { None: 0n, Committed: 1n, Revealed: 2n, Expired: 3n } as const;

/** Mines so that the next transaction lands in block `target`. */
async function nextTxInBlock(target: number): Promise<void> {
  const current = await ethers.provider.getBlockNumber();
  if (current > target - 1) throw new Error(`block ${target} is already past (at ${current})`);
  if (current < target - 1) await mineUpTo(target - 1);
}

function mustReceipt(receipt: TransactionReceipt | null): TransactionReceipt {
  if (!receipt) throw new Error("transaction was not mined");
  return receipt;
}

describe("UsageMeter commit-reveal", function () {
  describe("commit", function () {
    it("stores status, tenant and block, and emits Committed with the sender as relayer", async function () {
      const { meter, reporter } = await loadFixture(meterFixture);
      const commitment = ethers.id("batch-1");
      const tx = await meter.connect(reporter).commit(TENANT_A, commitment);
      await expect(tx).to.emit(meter, "Committed").withArgs(TENANT_A, reporter.address, commitment, reporter.address);
      const block = mustReceipt(await tx.wait()).blockNumber;
      expect(await meter.getCommitment(reporter.address, commitment)).to.deep.equal([
        Status.Committed,
        BigInt(TENANT_A),
        BigInt(block),
      ]);
      expect(await meter.getCommitment(reporter.address, ethers.id("never"))).to.deep.equal([Status.None, 0n, 0n]);
    });

    it("rejects the zero commitment", async function () {
      const { meter, reporter } = await loadFixture(meterFixture);
      await expect(meter.connect(reporter).commit(TENANT_A, ethers.ZeroHash)).to.be.revertedWithCustomError(
        meter,
        "InvalidCommitment",
      );
    });

    it("rejects overwriting a pending commitment up to and including its last reveal block", async function () {
      const { meter, reporter } = await loadFixture(meterFixture);
      const c = await commitRecords(meter, reporter, TENANT_A, [record({ sequence: 1 })]);
      const last = c.blockNumber + MAX_DELAY;
      await expect(meter.connect(reporter).commit(TENANT_A, c.commitment))
        .to.be.revertedWithCustomError(meter, "CommitmentPending")
        .withArgs(reporter.address, c.commitment, last);
      await nextTxInBlock(last);
      await expect(meter.connect(reporter).commit(TENANT_A, c.commitment))
        .to.be.revertedWithCustomError(meter, "CommitmentPending")
        .withArgs(reporter.address, c.commitment, last);
    });

    it("overwriting a lapsed commitment emits CommitmentExpired (old tenant) and then Committed", async function () {
      const { meter, reporter3 } = await loadFixture(meterFixture);
      const commitment = ethers.id("lapsed");
      const first = mustReceipt(await (await meter.connect(reporter3).commit(TENANT_A, commitment)).wait());
      await nextTxInBlock(first.blockNumber + MAX_DELAY + 1);
      const receipt = mustReceipt(await (await meter.connect(reporter3).commit(TENANT_B, commitment)).wait());
      const events = receipt.logs.map((log) => meter.interface.parseLog(log));
      expect(events.map((e) => e?.name)).to.deep.equal(["CommitmentExpired", "Committed"]);
      expect(events[0]?.args.toArray()).to.deep.equal([BigInt(TENANT_A), reporter3.address, commitment]);
      expect(events[1]?.args.toArray()).to.deep.equal([
        BigInt(TENANT_B),
        reporter3.address,
        commitment,
        reporter3.address,
      ]);
      expect(await meter.getCommitment(reporter3.address, commitment)).to.deep.equal([
        Status.Committed,
        BigInt(TENANT_B),
        BigInt(receipt.blockNumber),
      ]);
    });

    it("a commitment marked expired can be committed again, without a second CommitmentExpired", async function () {
      const { meter, reporter, outsider } = await loadFixture(meterFixture);
      const recs = [record({ sequence: 1 })];
      const c = await commitRecords(meter, reporter, TENANT_A, recs);
      await nextTxInBlock(c.blockNumber + MAX_DELAY + 1);
      await meter.connect(outsider).expire(reporter.address, c.commitment);
      const recommit = meter.connect(reporter).commit(TENANT_A, c.commitment);
      await expect(recommit).to.emit(meter, "Committed").and.not.to.emit(meter, "CommitmentExpired");
      const recommitted = mustReceipt(await (await recommit).wait());
      await nextTxInBlock(recommitted.blockNumber + MIN_DELAY);
      await expect(meter.reveal(TENANT_A, reporter.address, c.salt, recs)).to.emit(meter, "UsageRevealed");
    });

    it("a revealed commitment is a tombstone: it can't be committed again", async function () {
      const { meter, reporter } = await loadFixture(meterFixture);
      const recs = [record({ sequence: 1 })];
      const c = await commitAndAge(meter, reporter, TENANT_A, recs);
      await meter.reveal(TENANT_A, reporter.address, c.salt, recs);
      await expect(meter.connect(reporter).commit(TENANT_A, c.commitment))
        .to.be.revertedWithCustomError(meter, "CommitmentAlreadyRevealed")
        .withArgs(reporter.address, c.commitment);
    });

    it("squatting: another address committing the same hash gets its own slot and can't touch the reporter's", async function () {
      const { meter, reporter, reporter3 } = await loadFixture(meterFixture);
      const recs = [record({ sequence: 1 })];
      const salt = randomSalt();
      const commitment = await meter.commitmentHash(reporter.address, TENANT_A, salt, recs);
      // The squatter front-runs the reporter's commit with the very same hash.
      await meter.connect(reporter3).commit(TENANT_A, commitment);
      await expect(meter.connect(reporter).commit(TENANT_A, commitment))
        .to.emit(meter, "Committed")
        .withArgs(TENANT_A, reporter.address, commitment, reporter.address);
      await nextTxInBlock((await ethers.provider.getBlockNumber()) + MIN_DELAY);

      // The squatter can't reveal the records as its own (the hash binds the reporter) ...
      const asSquatter = await meter.commitmentHash(reporter3.address, TENANT_A, salt, recs);
      await expect(meter.reveal(TENANT_A, reporter3.address, salt, recs))
        .to.be.revertedWithCustomError(meter, "CommitmentNotFound")
        .withArgs(reporter3.address, asSquatter);
      // ... nor expire or otherwise disturb the reporter's slot, which reveals normally.
      await expect(meter.reveal(TENANT_A, reporter.address, salt, recs))
        .to.emit(meter, "UsageRevealed")
        .withArgs(TENANT_A, reporter.address, commitment, anyValue);
      expect((await meter.getCommitment(reporter3.address, commitment)).status).to.equal(Status.Committed);
      expect((await meter.getCommitment(reporter.address, commitment)).status).to.equal(Status.Revealed);
    });
  });

  describe("reveal", function () {
    it("records usage, tombstones the commitment, raises the high-water mark and emits the records verbatim", async function () {
      const { meter, reporter, outsider } = await loadFixture(meterFixture);
      const recs: PackedRecord[] = [
        record({ sequence: 3, meterId: METER_CALLS, quantity: 1n }, ethers.id("ref-a")),
        record({ sequence: 9, meterId: METER_STORAGE, quantity: (1n << 80n) - 1n }, ethers.id("ref-b")),
        record({ sequence: 10, periodStart: 0, periodEnd: 1, quantity: 5n }, ethers.ZeroHash),
      ];
      const c = await commitAndAge(meter, reporter, TENANT_A, recs);
      // Anyone may relay a reveal: the commitment binds the reporter.
      const receipt = mustReceipt(
        await (await meter.connect(outsider).reveal(TENANT_A, reporter.address, c.salt, recs)).wait(),
      );
      const parsed = receipt.logs.map((log) => meter.interface.parseLog(log));
      expect(parsed.map((e) => e?.name)).to.deep.equal(["UsageRevealed"]);
      expect(parsed[0]?.args.slice(0, 3)).to.deep.equal([BigInt(TENANT_A), reporter.address, c.commitment]);
      expect(plain(revealedRecords(meter, receipt)[0] ?? [])).to.deep.equal(plain(recs));
      // The raw data is exactly abi.encode(records), which is what the indexer decodes.
      const log = receipt.logs[0];
      expect(log?.data).to.equal(
        ethers.AbiCoder.defaultAbiCoder().encode(
          ["tuple(uint256 packed, bytes32 ref)[]"],
          [recs.map((r) => [r.packed, r.ref])],
        ),
      );
      expect(await meter.getCommitment(reporter.address, c.commitment)).to.deep.equal([
        Status.Revealed,
        BigInt(TENANT_A),
        BigInt(c.blockNumber),
      ]);
      expect(await meter.getReporter(TENANT_A, reporter.address)).to.deep.equal([true, 10n]);
    });

    it("min age: fails in the commit block and one block later, succeeds at exactly MIN_REVEAL_DELAY", async function () {
      const { meter, reporter } = await loadFixture(meterFixture);
      const recs = [record({ sequence: 1 })];
      const salt = randomSalt();
      const commitment = await meter.commitmentHash(reporter.address, TENANT_A, salt, recs);

      // Same block (+0): commit and reveal in one multicall transaction.
      const sameTx = meter
        .connect(reporter)
        .multicall([
          meter.interface.encodeFunctionData("commit", [TENANT_A, commitment]),
          meter.interface.encodeFunctionData("reveal", [TENANT_A, reporter.address, salt, recs]),
        ]);
      const nextBlock = (await ethers.provider.getBlockNumber()) + 1;
      await expect(sameTx)
        .to.be.revertedWithCustomError(meter, "RevealTooEarly")
        .withArgs(commitment, nextBlock + MIN_DELAY);

      const c = await commitRecords(meter, reporter, TENANT_A, recs, salt);
      for (let age = 1; age < MIN_DELAY; age++) {
        await nextTxInBlock(c.blockNumber + age);
        await expect(meter.reveal(TENANT_A, reporter.address, salt, recs))
          .to.be.revertedWithCustomError(meter, "RevealTooEarly")
          .withArgs(commitment, c.blockNumber + MIN_DELAY);
      }
      await nextTxInBlock(c.blockNumber + MIN_DELAY);
      await expect(meter.reveal(TENANT_A, reporter.address, salt, recs)).to.emit(meter, "UsageRevealed");
    });

    it("max age: succeeds at exactly MAX_REVEAL_DELAY, fails one block later", async function () {
      const { meter, reporter } = await loadFixture(meterFixture);
      const onTime = [record({ sequence: 1 })];
      const late = [record({ sequence: 2 })];
      const a = await commitRecords(meter, reporter, TENANT_A, onTime);
      const b = await commitRecords(meter, reporter, TENANT_A, late);
      await nextTxInBlock(a.blockNumber + MAX_DELAY);
      await expect(meter.reveal(TENANT_A, reporter.address, a.salt, onTime)).to.emit(meter, "UsageRevealed");
      expect(b.blockNumber).to.equal(a.blockNumber + 1);
      await nextTxInBlock(b.blockNumber + MAX_DELAY + 1);
      await expect(meter.reveal(TENANT_A, reporter.address, b.salt, late))
        .to.be.revertedWithCustomError(meter, "RevealTooLate")
        .withArgs(b.commitment, b.blockNumber + MAX_DELAY);
    });

    it("rejects a double reveal", async function () {
      const { meter, reporter } = await loadFixture(meterFixture);
      const recs = [record({ sequence: 1 })];
      const c = await commitAndAge(meter, reporter, TENANT_A, recs);
      await meter.reveal(TENANT_A, reporter.address, c.salt, recs);
      await expect(meter.reveal(TENANT_A, reporter.address, c.salt, recs))
        .to.be.revertedWithCustomError(meter, "CommitmentAlreadyRevealed")
        .withArgs(reporter.address, c.commitment);
    });

    it("rejects records never committed", async function () {
      const { meter, reporter } = await loadFixture(meterFixture);
      const recs = [record({ sequence: 1 })];
      const salt = randomSalt();
      await expect(meter.reveal(TENANT_A, reporter.address, salt, recs))
        .to.be.revertedWithCustomError(meter, "CommitmentNotFound")
        .withArgs(reporter.address, await meter.commitmentHash(reporter.address, TENANT_A, salt, recs));
    });

    it("sequence reuse under a new salt is rejected (no double counting)", async function () {
      const { meter, reporter } = await loadFixture(meterFixture);
      const recs = records(1, 3);
      const c = await commitAndAge(meter, reporter, TENANT_A, recs);
      await meter.reveal(TENANT_A, reporter.address, c.salt, recs);

      for (const replay of [recs, [record({ sequence: 3, quantity: 99n })], [record({ sequence: 2 })]]) {
        const again = await commitAndAge(meter, reporter, TENANT_A, replay);
        expect(again.salt).to.not.equal(c.salt);
        const first = replay[0] as PackedRecord;
        const seq = (BigInt(first.packed) >> 80n) & ((1n << 64n) - 1n);
        await expect(meter.reveal(TENANT_A, reporter.address, again.salt, replay))
          .to.be.revertedWithCustomError(meter, "SequenceNotIncreasing")
          .withArgs(0, seq, 3);
      }
    });

    it("high-water marks are per (tenant, reporter)", async function () {
      const { meter, reporter, reporter3 } = await loadFixture(meterFixture);
      const recs = records(1, 2);
      const a = await commitRecords(meter, reporter, TENANT_A, recs);
      const b = await commitRecords(meter, reporter3, TENANT_A, recs);
      const c = await commitAndAge(meter, reporter3, TENANT_B, recs);
      await meter.reveal(TENANT_A, reporter.address, a.salt, recs);
      await meter.reveal(TENANT_A, reporter3.address, b.salt, recs);
      await meter.reveal(TENANT_B, reporter3.address, c.salt, recs);
      expect((await meter.getReporter(TENANT_B, reporter3.address)).lastSequence).to.equal(2n);
    });

    it("rejects non-increasing sequences within a batch, and sequence 0", async function () {
      const { meter, reporter } = await loadFixture(meterFixture);
      const cases: [PackedRecord[], number, number, number][] = [
        [[record({ sequence: 1 }), record({ sequence: 3 }), record({ sequence: 3 })], 2, 3, 3],
        [[record({ sequence: 2 }), record({ sequence: 1 })], 1, 1, 2],
        [[record({ sequence: 0 })], 0, 0, 0],
      ];
      for (const [recs, index, seq, previous] of cases) {
        const c = await commitAndAge(meter, reporter, TENANT_A, recs);
        await expect(meter.reveal(TENANT_A, reporter.address, c.salt, recs))
          .to.be.revertedWithCustomError(meter, "SequenceNotIncreasing")
          .withArgs(index, seq, previous);
      }
    });

    it("accepts the largest sequence number, after which nothing more can be revealed", async function () {
      const { meter, reporter } = await loadFixture(meterFixture);
      const max = (1n << 64n) - 1n;
      const recs = [record({ sequence: max - 1n }), record({ sequence: max })];
      const c = await commitAndAge(meter, reporter, TENANT_A, recs);
      await meter.reveal(TENANT_A, reporter.address, c.salt, recs);
      expect((await meter.getReporter(TENANT_A, reporter.address)).lastSequence).to.equal(max);
      const after = [record({ sequence: max })];
      const c2 = await commitAndAge(meter, reporter, TENANT_A, after);
      await expect(meter.reveal(TENANT_A, reporter.address, c2.salt, after))
        .to.be.revertedWithCustomError(meter, "SequenceNotIncreasing")
        .withArgs(0, max, max);
    });

    describe("field validation", function () {
      async function expectRejected(recs: PackedRecord[], error: string, args: unknown[]) {
        const { meter, reporter } = await loadFixture(meterFixture);
        const c = await commitAndAge(meter, reporter, TENANT_A, recs);
        await expect(meter.reveal(TENANT_A, reporter.address, c.salt, recs))
          .to.be.revertedWithCustomError(meter, error)
          .withArgs(...args);
      }

      it("meter 0", async function () {
        await expectRejected([record({ sequence: 1 }), record({ sequence: 2, meterId: 0 })], "UnknownMeter", [1, 0]);
      });

      it("a meter id above the tenant's meter count", async function () {
        await expectRejected([record({ sequence: 1, meterId: 3 })], "UnknownMeter", [0, 3]);
        await expectRejected([record({ sequence: 1, meterId: 2 ** 32 - 1 })], "UnknownMeter", [0, 2 ** 32 - 1]);
      });

      it("period start equal to or after its end", async function () {
        await expectRejected([record({ sequence: 1, periodStart: 50, periodEnd: 50 })], "InvalidPeriod", [0, 50, 50]);
        await expectRejected(
          [record({ sequence: 1 }), record({ sequence: 2, periodStart: 51, periodEnd: 50 })],
          "InvalidPeriod",
          [1, 51, 50],
        );
      });

      it("quantity 0", async function () {
        await expectRejected([record({ sequence: 1, quantity: 0n })], "ZeroQuantity", [0]);
      });

      it("a period ending after the reveal block; ending exactly at it is fine", async function () {
        const { meter, reporter } = await loadFixture(meterFixture);
        const now = await time.latest();
        const end = now + 1000;
        const future = [record({ sequence: 1, periodStart: now, periodEnd: end })];
        const c = await commitAndAge(meter, reporter, TENANT_A, future);
        await time.setNextBlockTimestamp(end - 1);
        await expect(meter.reveal(TENANT_A, reporter.address, c.salt, future))
          .to.be.revertedWithCustomError(meter, "PeriodInFuture")
          .withArgs(0, end);
        await time.setNextBlockTimestamp(end);
        await expect(meter.reveal(TENANT_A, reporter.address, c.salt, future)).to.emit(meter, "UsageRevealed");
      });

      it("a meter registered after the reporter was authorized is accepted (cache refresh), and stays accepted", async function () {
        const { meter, manager, reporter } = await loadFixture(meterFixture);
        await meter.connect(manager).registerMeter(TENANT_A, name32("egress"));
        const first = [record({ sequence: 1, meterId: 3 })];
        const c = await commitAndAge(meter, reporter, TENANT_A, first);
        await expect(meter.reveal(TENANT_A, reporter.address, c.salt, first)).to.emit(meter, "UsageRevealed");
        // Served from the refreshed cache; a still-unknown meter is still rejected.
        const second = [record({ sequence: 2, meterId: 3 }), record({ sequence: 3, meterId: 1 })];
        const c2 = await commitAndAge(meter, reporter, TENANT_A, second);
        await expect(meter.reveal(TENANT_A, reporter.address, c2.salt, second)).to.emit(meter, "UsageRevealed");
        const third = [record({ sequence: 4, meterId: 4 })];
        const c3 = await commitAndAge(meter, reporter, TENANT_A, third);
        await expect(meter.reveal(TENANT_A, reporter.address, c3.salt, third))
          .to.be.revertedWithCustomError(meter, "UnknownMeter")
          .withArgs(0, 4);
      });
    });

    it("rejects an empty reveal", async function () {
      const { meter, reporter } = await loadFixture(meterFixture);
      await expect(meter.reveal(TENANT_A, reporter.address, randomSalt(), [])).to.be.revertedWithCustomError(
        meter,
        "EmptyReveal",
      );
    });

    it("accepts MAX_RECORDS_PER_REVEAL records and rejects one more", async function () {
      const { meter, reporter } = await loadFixture(meterFixture);
      const max = Number(await meter.MAX_RECORDS_PER_REVEAL());
      const tooMany = records(1, max + 1);
      await expect(meter.reveal(TENANT_A, reporter.address, randomSalt(), tooMany))
        .to.be.revertedWithCustomError(meter, "TooManyRecords")
        .withArgs(max + 1, max);
      const full = records(1, max);
      const c = await commitAndAge(meter, reporter, TENANT_A, full);
      const receipt = mustReceipt(await (await meter.reveal(TENANT_A, reporter.address, c.salt, full)).wait());
      expect(plain(revealedRecords(meter, receipt)[0] ?? [])).to.deep.equal(plain(full));
      expect((await meter.getReporter(TENANT_A, reporter.address)).lastSequence).to.equal(BigInt(max));
    });

    it("tenant mismatch: a commit under tenant A of a hash computed for tenant B can't be revealed", async function () {
      const { meter, reporter3 } = await loadFixture(meterFixture);
      const recs = [record({ sequence: 1 })];
      const salt = randomSalt();
      const forB = await meter.commitmentHash(reporter3.address, TENANT_B, salt, recs);
      await meter.connect(reporter3).commit(TENANT_A, forB);
      await nextTxInBlock((await ethers.provider.getBlockNumber()) + MIN_DELAY);
      await expect(meter.reveal(TENANT_B, reporter3.address, salt, recs))
        .to.be.revertedWithCustomError(meter, "CommitmentTenantMismatch")
        .withArgs(forB, TENANT_A, TENANT_B);
      await expect(meter.reveal(TENANT_A, reporter3.address, salt, recs))
        .to.be.revertedWithCustomError(meter, "CommitmentNotFound")
        .withArgs(reporter3.address, await meter.commitmentHash(reporter3.address, TENANT_A, salt, recs));
    });

    it("records revealed under a different salt, reporter or record set don't match the commitment", async function () {
      const { meter, reporter, reporter3 } = await loadFixture(meterFixture);
      const recs = records(1, 2);
      const c = await commitAndAge(meter, reporter, TENANT_A, recs);
      const otherSalt = randomSalt();
      const altered = [recs[0] as PackedRecord, record({ sequence: 2, quantity: 11n })];
      const reordered = [recs[1] as PackedRecord, recs[0] as PackedRecord];
      const attempts: [string, string, PackedRecord[]][] = [
        [reporter.address, otherSalt, recs],
        [reporter3.address, c.salt, recs],
        [reporter.address, c.salt, altered],
        [reporter.address, c.salt, reordered],
        [reporter.address, c.salt, [recs[0] as PackedRecord]],
      ];
      for (const [who, salt, rs] of attempts) {
        await expect(meter.reveal(TENANT_A, who, salt, rs))
          .to.be.revertedWithCustomError(meter, "CommitmentNotFound")
          .withArgs(who, await meter.commitmentHash(who, TENANT_A, salt, rs));
      }
      await expect(meter.reveal(TENANT_A, reporter.address, c.salt, recs)).to.emit(meter, "UsageRevealed");
    });

    it("replay across chains: a commitment hashed for another chain id is never accepted here", async function () {
      const { meter, reporter, chainId } = await loadFixture(meterFixture);
      const recs = records(1, 2);
      const salt = randomSalt() as `0x${string}`;
      const args = {
        meter: (await meter.getAddress()) as `0x${string}`,
        reporter: reporter.address as `0x${string}`,
        tenantId: TENANT_A,
        salt,
        records: recs,
      };
      const here = commitmentHash({ ...args, chainId });
      expect(await meter.commitmentHash(reporter.address, TENANT_A, salt, recs)).to.equal(here);
      const mainnet = commitmentHash({ ...args, chainId: 1n });
      expect(mainnet).to.not.equal(here);

      await meter.connect(reporter).commit(TENANT_A, mainnet);
      await nextTxInBlock((await ethers.provider.getBlockNumber()) + MIN_DELAY);
      await expect(meter.reveal(TENANT_A, reporter.address, salt, recs))
        .to.be.revertedWithCustomError(meter, "CommitmentNotFound")
        .withArgs(reporter.address, here);
    });

    it("replay across contracts: a commitment made on one deployment can't be revealed on another", async function () {
      const { meter, other, reporter } = await loadFixture(twoMetersFixture);
      const recs = records(1, 2);
      const c = await commitAndAge(meter, reporter, TENANT_A, recs);
      const onOther = await other.commitmentHash(reporter.address, TENANT_A, c.salt, recs);
      expect(onOther).to.not.equal(c.commitment);
      await expect(other.reveal(TENANT_A, reporter.address, c.salt, recs))
        .to.be.revertedWithCustomError(other, "CommitmentNotFound")
        .withArgs(reporter.address, onOther);

      // Even committing the first deployment's hash on the second doesn't let it through.
      await other.connect(reporter).commit(TENANT_A, c.commitment);
      await nextTxInBlock((await ethers.provider.getBlockNumber()) + MIN_DELAY);
      await expect(other.reveal(TENANT_A, reporter.address, c.salt, recs))
        .to.be.revertedWithCustomError(other, "CommitmentNotFound")
        .withArgs(reporter.address, onOther);
      await expect(meter.reveal(TENANT_A, reporter.address, c.salt, recs)).to.emit(meter, "UsageRevealed");
    });

    it("dirty high bits in tenantId or reporter are rejected by ABI decoding before the assembly hash sees them", async function () {
      const { meter, reporter, outsider } = await loadFixture(meterFixture);
      const recs = [record({ sequence: 1 })];
      const c = await commitAndAge(meter, reporter, TENANT_A, recs);
      const to = await meter.getAddress();
      const data = ethers.getBytes(
        meter.interface.encodeFunctionData("reveal", [TENANT_A, reporter.address, c.salt, recs]),
      );
      // Word 0 is tenantId (uint32), word 1 the reporter (address): set a bit above each type's width.
      for (const dirtyByte of [4 + 27, 4 + 32 + 11]) {
        const dirty = Uint8Array.from(data);
        dirty[dirtyByte] = 0x01;
        // Empty revert data: the decoder refused it (a hash mismatch would say CommitmentNotFound).
        await expect(outsider.sendTransaction({ to, data: ethers.hexlify(dirty) })).to.be.revertedWithoutReason();
      }
      await expect(outsider.sendTransaction({ to, data: ethers.hexlify(data) })).to.emit(meter, "UsageRevealed");
    });

    it("multicall bubbles inner custom errors, and reports an inner revert without data as FailedCall", async function () {
      const { meter, reporter } = await loadFixture(meterFixture);
      const good = meter.interface.encodeFunctionData("commit", [TENANT_A, ethers.id("ok")]);
      const bad = meter.interface.encodeFunctionData("commit", [TENANT_A, ethers.ZeroHash]);
      await expect(meter.connect(reporter).multicall([good, bad])).to.be.revertedWithCustomError(
        meter,
        "InvalidCommitment",
      );
      // No fallback: an unknown selector reverts with empty data, which Multicall turns into FailedCall.
      await expect(meter.connect(reporter).multicall([good, "0x12345678"])).to.be.revertedWithCustomError(
        meter,
        "FailedCall",
      );
      expect((await meter.getCommitment(reporter.address, ethers.id("ok"))).status).to.equal(Status.None);
    });

    it("multicall pipelines reveal(batch k) and commit(batch k+1) in one transaction", async function () {
      const { meter, reporter } = await loadFixture(meterFixture);
      const batch1 = records(1, 2);
      const batch2 = records(3, 2);
      const c1 = await commitAndAge(meter, reporter, TENANT_A, batch1);
      const salt2 = randomSalt();
      const h2 = await meter.commitmentHash(reporter.address, TENANT_A, salt2, batch2);
      const tx = meter
        .connect(reporter)
        .multicall([
          meter.interface.encodeFunctionData("reveal", [TENANT_A, reporter.address, c1.salt, batch1]),
          meter.interface.encodeFunctionData("commit", [TENANT_A, h2]),
        ]);
      await expect(tx)
        .to.emit(meter, "UsageRevealed")
        .and.to.emit(meter, "Committed")
        .withArgs(TENANT_A, reporter.address, h2, reporter.address);
      expect((await meter.getCommitment(reporter.address, h2)).status).to.equal(Status.Committed);
    });
  });

  describe("expire", function () {
    it("anyone may expire a commitment only after its maximum age; then it can't be revealed", async function () {
      const { meter, reporter, outsider } = await loadFixture(meterFixture);
      const recs = [record({ sequence: 1 })];
      const c = await commitRecords(meter, reporter, TENANT_A, recs);
      const last = c.blockNumber + MAX_DELAY;
      await expect(meter.connect(outsider).expire(reporter.address, c.commitment))
        .to.be.revertedWithCustomError(meter, "CommitmentNotExpired")
        .withArgs(c.commitment, last);
      await nextTxInBlock(last);
      await expect(meter.connect(outsider).expire(reporter.address, c.commitment))
        .to.be.revertedWithCustomError(meter, "CommitmentNotExpired")
        .withArgs(c.commitment, last);
      await expect(meter.connect(outsider).expire(reporter.address, c.commitment))
        .to.emit(meter, "CommitmentExpired")
        .withArgs(TENANT_A, reporter.address, c.commitment);
      expect(await meter.getCommitment(reporter.address, c.commitment)).to.deep.equal([
        Status.Expired,
        BigInt(TENANT_A),
        BigInt(c.blockNumber),
      ]);
      await expect(meter.connect(outsider).expire(reporter.address, c.commitment))
        .to.be.revertedWithCustomError(meter, "CommitmentNotFound")
        .withArgs(reporter.address, c.commitment);
      await expect(meter.reveal(TENANT_A, reporter.address, c.salt, recs))
        .to.be.revertedWithCustomError(meter, "CommitmentNotFound")
        .withArgs(reporter.address, c.commitment);
    });

    it("rejects unknown and revealed commitments", async function () {
      const { meter, reporter } = await loadFixture(meterFixture);
      await expect(meter.expire(reporter.address, ethers.id("nothing")))
        .to.be.revertedWithCustomError(meter, "CommitmentNotFound")
        .withArgs(reporter.address, ethers.id("nothing"));
      const recs = [record({ sequence: 1 })];
      const c = await commitAndAge(meter, reporter, TENANT_A, recs);
      await meter.reveal(TENANT_A, reporter.address, c.salt, recs);
      await nextTxInBlock(c.blockNumber + MAX_DELAY + 1);
      await expect(meter.expire(reporter.address, c.commitment))
        .to.be.revertedWithCustomError(meter, "CommitmentNotFound")
        .withArgs(reporter.address, c.commitment);
    });
  });

  describe("ETH", function () {
    it("rejects plain transfers and value on any call", async function () {
      const { meter, reporter, outsider } = await loadFixture(meterFixture);
      const to = await meter.getAddress();
      await expect(outsider.sendTransaction({ to, value: 1n })).to.be.revertedWithoutReason();
      await expect(outsider.sendTransaction({ to, value: 1n, data: "0x12345678" })).to.be.revertedWithoutReason();
      const data = meter.interface.encodeFunctionData("commit", [TENANT_A, ethers.id("with value")]);
      await expect(reporter.sendTransaction({ to, value: 1n, data })).to.be.revertedWithoutReason();
      await expect(reporter.sendTransaction({ to, value: 0n, data })).to.emit(meter, "Committed");
      const multicall = meter.interface.encodeFunctionData("multicall", [[]]);
      await expect(reporter.sendTransaction({ to, value: 1n, data: multicall })).to.be.reverted;
      expect(await ethers.provider.getBalance(to)).to.equal(0n);
      const payable = meter.interface.fragments.filter((f) => f.type === "function" && "payable" in f && f.payable);
      expect(payable).to.deep.equal([]);
      expect(meter.interface.fallback).to.equal(null);
      expect(meter.interface.receive).to.equal(false);
    });
  });
});
