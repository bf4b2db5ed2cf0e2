import { encodeAbiParameters, keccak256, type Address, type Hex } from "viem";

/**
 * TypeScript mirror of contracts/lib/UsageRecordCodec.sol. One 256-bit word per record:
 * | meterId uint32 | periodStart uint40 | periodEnd uint40 | sequence uint64 | quantity uint80 |
 * The contract exposes encodeRecord/decodeRecord; test/contracts checks both sides agree.
 */
export interface UsageRecordFields {
  meterId: number;
  /** Unix seconds, inclusive. */
  periodStart: number;
  /** Unix seconds, exclusive. */
  periodEnd: number;
  sequence: bigint;
  quantity: bigint;
}

export interface UsageRecord extends UsageRecordFields {
  /** The reporter's 32-byte reference for this record (e.g. a hash of its own event ids). */
  ref: Hex;
}

/** The on-chain shape: `UsageMeter.PackedRecord`. */
export interface PackedRecord {
  packed: bigint;
  ref: Hex;
}

const LIMITS = {
  meterId: (1n << 32n) - 1n,
  periodStart: (1n << 40n) - 1n,
  periodEnd: (1n << 40n) - 1n,
  sequence: (1n << 64n) - 1n,
  quantity: (1n << 80n) - 1n,
} as const;

export class RecordEncodingError extends Error {
  override name = "RecordEncodingError";
}

function checkRange(field: keyof typeof LIMITS, value: bigint): bigint {
  if (value < 0n || value > LIMITS[field]) {
    throw new RecordEncodingError(`${field} ${value} is outside 0..${LIMITS[field]}`);
  }
  return value;
}

export function encodeRecordWord(f: UsageRecordFields): bigint {
  return (
    (checkRange("meterId", BigInt(f.meterId)) << 224n) |
    (checkRange("periodStart", BigInt(f.periodStart)) << 184n) |
    (checkRange("periodEnd", BigInt(f.periodEnd)) << 144n) |
    (checkRange("sequence", f.sequence) << 80n) |
    checkRange("quantity", f.quantity)
  );
}

export function decodeRecordWord(word: bigint): UsageRecordFields {
  return {
    meterId: Number(word >> 224n),
    periodStart: Number((word >> 184n) & LIMITS.periodStart),
    periodEnd: Number((word >> 144n) & LIMITS.periodEnd),
    sequence: (word >> 80n) & LIMITS.sequence,
    quantity: word & LIMITS.quantity,
  };
}

export function packRecord(r: UsageRecord): PackedRecord {
  return { packed: encodeRecordWord(r), ref: r.ref };
}

export function unpackRecord(p: PackedRecord): UsageRecord {
  return { ...decodeRecordWord(p.packed), ref: p.ref };
}

const COMMITMENT_PARAMS = [
  { type: "uint256" }, // chain id
  { type: "address" }, // UsageMeter
  { type: "address" }, // reporter
  { type: "uint32" }, // tenant id
  { type: "bytes32" }, // salt
  {
    type: "tuple[]",
    components: [
      { name: "packed", type: "uint256" },
      { name: "ref", type: "bytes32" },
    ],
  },
] as const;

/** Same value as `UsageMeter.commitmentHash`: abi.encode(chainid, meter, reporter, tenant, salt, records). */
export function commitmentHash(args: {
  chainId: bigint | number;
  meter: Address;
  reporter: Address;
  tenantId: number;
  salt: Hex;
  records: readonly PackedRecord[];
}): Hex {
  return keccak256(
    encodeAbiParameters(COMMITMENT_PARAMS, [
      BigInt(args.chainId),
      args.meter,
      args.reporter,
      args.tenantId,
      args.salt,
      args.records.map((r) => ({ packed: r.packed, ref: r.ref })),
    ]),
  );
}
