import { expect } from "chai";
import { ethers } from "hardhat";
import fc from "fast-check";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import type { ContractTransactionResponse, TransactionReceipt } from "ethers";
import {
  commitmentHash,
  decodeRecordWord,
  encodeRecordWord,
  type PackedRecord,
  type UsageRecordFields,
} from "../../chain/record";
import type { UsageMeter } from "../../scripts/typechain-types";
import {
  MAX_DELAY,
  MIN_DELAY,
  PAST_END,
  PAST_START,
  TENANT_A,
  TENANT_B,
  commitAndAge,
  meterFixture,
  plain,
  revealedRecords,
  type MeterFixture,
} from "./fixtures";

type Hex = `0x${string}`;

const hex32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => ethers.hexlify(b) as Hex);
const address = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => ethers.getAddress(ethers.hexlify(b)) as Hex);
const uint = (bits: number) => fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n });
const fields: fc.Arbitrary<UsageRecordFields> = fc.record({
  meterId: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  periodStart: fc.integer({ min: 0, max: 2 ** 40 - 1 }),
  periodEnd: fc.integer({ min: 0, max: 2 ** 40 - 1 }),
  sequence: uint(64),
  quantity: uint(80),
});
const anyRecord: fc.Arbitrary<PackedRecord> = fc.record({ packed: uint(256), ref: hex32 });

describe("UsageMeter properties (fast-check)", function () {
  describe("codec and hash agree with chain/record.ts", function () {
    it("encodeRecord equals the TS encoder, and decodeRecord inverts it", async function () {
      const { meter } = await loadFixture(meterFixture);
      await fc.assert(
        fc.asyncProperty(fields, async (f) => {
          const word = await meter.encodeRecord(f.meterId, f.periodStart, f.periodEnd, f.sequence, f.quantity);
          expect(word).to.equal(encodeRecordWord(f));
          const d = await meter.decodeRecord(word);
          expect([Number(d.meterId), Number(d.periodStart), Number(d.periodEnd), d.sequence, d.quantity]).to.deep.equal(
            [f.meterId, f.periodStart, f.periodEnd, f.sequence, f.quantity],
          );
        }),
        { numRuns: 100 },
      );
    });

    it("decodeRecord of any word equals the TS decoder", async function () {
      const { meter } = await loadFixture(meterFixture);
      await fc.assert(
        fc.asyncProperty(uint(256), async (word) => {
          const d = await meter.decodeRecord(word);
          const t = decodeRecordWord(word);
          expect([Number(d.meterId), Number(d.periodStart), Number(d.periodEnd), d.sequence, d.quantity]).to.deep.equal(
            [t.meterId, t.periodStart, t.periodEnd, t.sequence, t.quantity],
          );
          expect(encodeRecordWord(t)).to.equal(word);
        }),
        { numRuns: 100 },
      );
    });

    it("the commitmentHash view equals the TS commitmentHash on arbitrary inputs", async function () {
      const { meter, chainId } = await loadFixture(meterFixture);
      const meterAddress = (await meter.getAddress()) as Hex;
      const input = fc.record({
        reporter: address,
        tenantId: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        salt: hex32,
        records: fc.array(anyRecord, { maxLength: 12 }),
      });
      await fc.assert(
        fc.asyncProperty(input, async ({ reporter, tenantId, salt, records }) => {
          const onChain = await meter.commitmentHash(reporter, tenantId, salt, records);
          expect(onChain).to.equal(commitmentHash({ chainId, meter: meterAddress, reporter, tenantId, salt, records }));
        }),
        { numRuns: 100 },
      );
    });

    it("reveal's assembly hash equals the view: random valid batches reveal, and the event carries them verbatim", async function () {
      // Valid batches: meters of tenant A, past periods, quantity > 0, strictly increasing sequences.
      const batch = fc
        .array(
          fc.record({
            meterId: fc.constantFrom(1, 2),
            periodStart: fc.integer({ min: 0, max: PAST_START }),
            length: fc.integer({ min: 1, max: PAST_END - PAST_START }),
            gap: fc.bigInt({ min: 1n, max: 1n << 48n }),
            quantity: fc.bigInt({ min: 1n, max: (1n << 80n) - 1n }),
            ref: hex32,
          }),
          { minLength: 1, maxLength: 40 },
        )
        .map((rows) => {
          let sequence = 0n;
          return rows.map((r) => {
            sequence += r.gap;
            const word = encodeRecordWord({
              meterId: r.meterId,
              periodStart: r.periodStart,
              periodEnd: r.periodStart + r.length,
              sequence,
              quantity: r.quantity,
            });
            return { packed: word, ref: r.ref };
          });
        });
      await fc.assert(
        fc.asyncProperty(batch, hex32, async (recs, salt) => {
          const { meter, reporter, chainId } = await loadFixture(meterFixture);
          const c = await commitAndAge(meter, reporter, TENANT_A, recs, salt);
          const ts = commitmentHash({
            chainId,
            meter: (await meter.getAddress()) as Hex,
            reporter: reporter.address as Hex,
            tenantId: TENANT_A,
            salt,
            records: recs,
          });
          expect(c.commitment).to.equal(ts);
          const tx = await meter.reveal(TENANT_A, reporter.address, salt, recs);
          const receipt = (await tx.wait()) as TransactionReceipt;
          const events = revealedRecords(meter, receipt);
          expect(events).to.have.length(1);
          expect(plain(events[0] ?? [])).to.deep.equal(plain(recs));
          expect((await meter.getCommitment(reporter.address, c.commitment)).status).to.equal(2n);
        }),
        { numRuns: 25 },
      );
    });
  });

  describe("random operation sequences against a model", function () {
    /** (tenant, reporter) pairs; reporter3 reports for both tenants. */
    const PAIRS = ["A:reporter", "B:reporter2", "A:reporter3", "B:reporter3"] as const;
    const METER_COUNT: Record<number, number> = { [TENANT_A]: 2, [TENANT_B]: 1 };

    type Op =
      | { kind: "commit"; pair: number; reuse: boolean; gap: number; rows: { meterSeed: number; quantity: bigint }[] }
      | { kind: "recommit"; which: number }
      | { kind: "reveal"; which: number }
      | { kind: "expire"; which: number }
      | { kind: "mine"; blocks: number }
      | { kind: "pause" }
      | { kind: "unpause" }
      | { kind: "toggleAuth"; pair: number };

    const opArb: fc.Arbitrary<Op> = fc.oneof(
      {
        weight: 5,
        arbitrary: fc.record({
          kind: fc.constant("commit" as const),
          pair: fc.nat(PAIRS.length - 1),
          reuse: fc.boolean(),
          gap: fc.nat(2),
          rows: fc.array(fc.record({ meterSeed: fc.nat(11), quantity: fc.bigInt({ min: 1n, max: 1000n }) }), {
            minLength: 1,
            maxLength: 3,
          }),
        }),
      },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("recommit" as const), which: fc.nat(5) }) },
      { weight: 6, arbitrary: fc.record({ kind: fc.constant("reveal" as const), which: fc.nat(5) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant("expire" as const), which: fc.nat(5) }) },
      {
        weight: 4,
        arbitrary: fc.record({
          kind: fc.constant("mine" as const),
          // Mostly short hops into the reveal window, sometimes past it.
          blocks: fc.oneof(
            { weight: 3, arbitrary: fc.integer({ min: 1, max: MIN_DELAY + 1 }) },
            { weight: 1, arbitrary: fc.integer({ min: 1, max: MAX_DELAY + 2 }) },
          ),
        }),
      },
      { weight: 1, arbitrary: fc.constant({ kind: "pause" as const }) },
      { weight: 2, arbitrary: fc.constant({ kind: "unpause" as const }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("toggleAuth" as const), pair: fc.nat(PAIRS.length - 1) }) },
    );

    interface ModelCommitment {
      pair: number;
      tenantId: number;
      reporter: string;
      salt: Hex;
      records: PackedRecord[];
      hash: Hex;
      committedAt: number;
      status: "Committed" | "Revealed" | "Expired";
    }

    interface Model {
      paused: boolean;
      authorized: boolean[];
      lastSequence: bigint[];
      issued: bigint[];
      commitments: ModelCommitment[];
      totals: Map<number, bigint>;
    }

    type Outcome = { ok: true; receipt: TransactionReceipt } | { ok: false; error: string };

    async function outcome(meter: UsageMeter, sent: Promise<ContractTransactionResponse>): Promise<Outcome> {
      try {
        const receipt = await (await sent).wait();
        if (!receipt) throw new Error("not mined");
        return { ok: true, receipt };
      } catch (e) {
        const data = (e as { data?: string }).data;
        const parsed = data ? meter.interface.parseError(data) : null;
        if (!parsed) throw e;
        return { ok: false, error: parsed.name };
      }
    }

    /** Every (operation, outcome) seen across runs, to show the runs are not vacuous. */
    const observed = new Map<string, number>();

    function expectOutcome(actual: Outcome, expected: string | null, what: string): void {
      const got = actual.ok ? null : actual.error;
      const key = `${what.split('"kind":"')[1]?.split('"')[0]}:${got ?? "ok"}`;
      observed.set(key, (observed.get(key) ?? 0) + 1);
      expect(got, what).to.equal(expected);
    }

    /** Mirrors UsageMeter._validateRecords: the first failing record decides the error. */
    function validate(m: Model, c: ModelCommitment): string | null {
      let previous = m.lastSequence[c.pair] as bigint;
      for (const r of c.records) {
        const f = decodeRecordWord(BigInt(r.packed));
        if (f.meterId === 0 || f.meterId > (METER_COUNT[c.tenantId] as number)) return "UnknownMeter";
        if (f.sequence <= previous) return "SequenceNotIncreasing";
        previous = f.sequence;
      }
      return null;
    }

    async function run(ctx: MeterFixture, ops: Op[]): Promise<void> {
      const { meter, pauser, admin, manager, chainId } = ctx;
      const reporters = { reporter: ctx.reporter, reporter2: ctx.reporter2, reporter3: ctx.reporter3 };
      const meterAddress = (await meter.getAddress()) as Hex;
      const pairOf = (i: number) => {
        const [tenant, who] = (PAIRS[i] as string).split(":") as ["A" | "B", keyof typeof reporters];
        return { tenantId: tenant === "A" ? TENANT_A : TENANT_B, signer: reporters[who] };
      };
      const m: Model = {
        paused: false,
        authorized: PAIRS.map(() => true),
        lastSequence: PAIRS.map(() => 0n),
        issued: PAIRS.map(() => 0n),
        commitments: [],
        totals: new Map([
          [TENANT_A, 0n],
          [TENANT_B, 0n],
        ]),
      };
      // Counts back from the newest commitment: older ones are mostly settled already.
      const pick = (which: number) => {
        const n = m.commitments.length;
        return n === 0 ? undefined : m.commitments[n - 1 - (which % n)];
      };

      for (const [step, op] of ops.entries()) {
        const block = (await ethers.provider.getBlockNumber()) + 1;
        const what = `step ${step}: ${JSON.stringify(op, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))}`;
        switch (op.kind) {
          case "commit": {
            const { tenantId, signer } = pairOf(op.pair);
            const base = op.reuse ? (m.lastSequence[op.pair] as bigint) : (m.issued[op.pair] as bigint);
            const records = op.rows.map((row, i) => {
              const meterId =
                row.meterSeed === 0
                  ? 0
                  : row.meterSeed === 1
                    ? 3
                    : 1 + (row.meterSeed % (METER_COUNT[tenantId] as number));
              const sequence = base + BigInt(op.gap) + BigInt(i);
              return {
                packed: encodeRecordWord({
                  meterId,
                  periodStart: PAST_START,
                  periodEnd: PAST_END,
                  sequence,
                  quantity: row.quantity,
                }),
                ref: ethers.ZeroHash as Hex,
              };
            });
            const last = base + BigInt(op.gap) + BigInt(records.length - 1);
            if (last > (m.issued[op.pair] as bigint)) m.issued[op.pair] = last;
            const salt = ethers.id(`salt-${step}`) as Hex;
            const hash = commitmentHash({
              chainId,
              meter: meterAddress,
              reporter: signer.address as Hex,
              tenantId,
              salt,
              records,
            });
            const expected = m.paused ? "EnforcedPause" : !m.authorized[op.pair] ? "ReporterNotAuthorized" : null;
            const result = await outcome(meter, meter.connect(signer).commit(tenantId, hash));
            expectOutcome(result, expected, what);
            if (result.ok) {
              m.commitments.push({
                pair: op.pair,
                tenantId,
                reporter: signer.address,
                salt,
                records,
                hash,
                committedAt: block,
                status: "Committed",
              });
            }
            break;
          }
          case "recommit": {
            const c = pick(op.which);
            if (!c) break;
            let expected: string | null = null;
            if (m.paused) expected = "EnforcedPause";
            else if (!m.authorized[c.pair]) expected = "ReporterNotAuthorized";
            else if (c.status === "Revealed") expected = "CommitmentAlreadyRevealed";
            else if (c.status === "Committed" && block <= c.committedAt + MAX_DELAY) expected = "CommitmentPending";
            const { signer } = pairOf(c.pair);
            const result = await outcome(meter, meter.connect(signer).commit(c.tenantId, c.hash));
            expectOutcome(result, expected, what);
            if (result.ok) {
              const names = result.receipt.logs.map((l) => meter.interface.parseLog(l)?.name);
              expect(names, what).to.deep.equal(
                c.status === "Committed" ? ["CommitmentExpired", "Committed"] : ["Committed"],
              );
              c.status = "Committed";
              c.committedAt = block;
            }
            break;
          }
          case "reveal": {
            const c = pick(op.which);
            if (!c) break;
            let expected: string | null = null;
            if (m.paused) expected = "EnforcedPause";
            else if (c.status === "Revealed") expected = "CommitmentAlreadyRevealed";
            else if (c.status !== "Committed") expected = "CommitmentNotFound";
            else if (block < c.committedAt + MIN_DELAY) expected = "RevealTooEarly";
            else if (block > c.committedAt + MAX_DELAY) expected = "RevealTooLate";
            else if (!m.authorized[c.pair]) expected = "ReporterNotAuthorized";
            else expected = validate(m, c);
            const result = await outcome(
              meter,
              meter.connect(ctx.outsider).reveal(c.tenantId, c.reporter, c.salt, c.records),
            );
            expectOutcome(result, expected, what);
            if (result.ok) {
              c.status = "Revealed";
              const fieldsOf = c.records.map((r) => decodeRecordWord(BigInt(r.packed)));
              m.lastSequence[c.pair] = (fieldsOf[fieldsOf.length - 1] as UsageRecordFields).sequence;
              const sum = fieldsOf.reduce((acc, f) => acc + f.quantity, 0n);
              m.totals.set(c.tenantId, (m.totals.get(c.tenantId) as bigint) + sum);
            }
            break;
          }
          case "expire": {
            const c = pick(op.which);
            if (!c) break;
            let expected: string | null = null;
            if (m.paused) expected = "EnforcedPause";
            else if (c.status !== "Committed") expected = "CommitmentNotFound";
            else if (block <= c.committedAt + MAX_DELAY) expected = "CommitmentNotExpired";
            const result = await outcome(meter, meter.connect(ctx.outsider).expire(c.reporter, c.hash));
            expectOutcome(result, expected, what);
            if (result.ok) c.status = "Expired";
            break;
          }
          case "mine":
            await mine(op.blocks);
            break;
          case "pause": {
            const result = await outcome(meter, meter.connect(pauser).pause("random"));
            expectOutcome(result, m.paused ? "EnforcedPause" : null, what);
            m.paused = true;
            break;
          }
          case "unpause": {
            const result = await outcome(meter, meter.connect(admin).unpause());
            expectOutcome(result, m.paused ? null : "ExpectedPause", what);
            m.paused = false;
            break;
          }
          case "toggleAuth": {
            const { tenantId, signer } = pairOf(op.pair);
            const was = m.authorized[op.pair] as boolean;
            const call = was
              ? meter.connect(manager).revokeReporter(tenantId, signer.address)
              : meter.connect(manager).authorizeReporter(tenantId, signer.address);
            const result = await outcome(meter, call);
            // Revocation only removes privilege and stays available during a pause.
            expectOutcome(result, m.paused && !was ? "EnforcedPause" : null, what);
            if (result.ok) m.authorized[op.pair] = !was;
            break;
          }
        }
      }

      // The chain's own account of usage, from events only (what an indexer sees).
      const logs = await meter.queryFilter(meter.filters.UsageRevealed());
      const totals = new Map<number, bigint>([
        [TENANT_A, 0n],
        [TENANT_B, 0n],
      ]);
      const seen = new Set<string>();
      for (const log of logs) {
        const tenantId = Number(log.args.tenantId);
        const committed = m.commitments.find((c) => c.hash === log.args.commitment && c.reporter === log.args.reporter);
        expect(committed, "every revealed batch is one the model committed").to.not.equal(undefined);
        const recs = log.args.records.map(([packed, ref]) => ({ packed, ref: ref as Hex }));
        expect(plain(recs)).to.deep.equal(plain(committed?.records ?? []));
        for (const r of recs) {
          const f = decodeRecordWord(r.packed);
          const key = `${tenantId}:${log.args.reporter}:${f.sequence}`;
          expect(seen.has(key), `record ${key} counted twice`).to.equal(false);
          seen.add(key);
          totals.set(tenantId, (totals.get(tenantId) ?? 0n) + f.quantity);
        }
      }
      expect(totals).to.deep.equal(m.totals);
      expect(logs.length).to.equal(m.commitments.filter((c) => c.status === "Revealed").length);
      for (const [i, last] of m.lastSequence.entries()) {
        const { tenantId, signer } = pairOf(i);
        expect(await meter.getReporter(tenantId, signer.address)).to.deep.equal([m.authorized[i], last]);
      }
      const status = { Committed: 1n, Revealed: 2n, Expired: 3n } as const;
      for (const c of m.commitments) {
        expect((await meter.getCommitment(c.reporter, c.hash)).status).to.equal(status[c.status]);
      }
    }

    it("every record is counted at most once and revealed totals per tenant equal the model's", async function () {
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 10, maxLength: 60, size: "max" }), async (ops) => {
          const ctx = await loadFixture(meterFixture);
          await run(ctx, ops);
        }),
        { numRuns: 60 },
      );
      // Guard against a vacuous model run: the key paths must each have happened at least once.
      const required = [
        "commit:ok",
        "reveal:ok",
        "reveal:SequenceNotIncreasing",
        "reveal:RevealTooEarly",
        "reveal:RevealTooLate",
        "reveal:EnforcedPause",
        "expire:ok",
        "recommit:CommitmentPending",
      ];
      expect(
        required.filter((k) => !observed.has(k)),
        "outcomes never exercised",
      ).to.deep.equal([]);
    });
  });
});
