/**
 * The tenant's trust anchors: what it takes from its own configuration and never from a file.
 */
import { getAddress, isAddress, type Address, type Hex } from "viem";
import { documentHash } from "../rating/document-hash";
import { planSnapshotSchema } from "../rating/snapshot";
import { plainNaming, type TenantNaming } from "./naming";
import { VerifierError } from "./result";

export interface TrustAnchors {
  /** The UsageMeter contract. */
  meter: Address;
  /** The InvoiceAnchor contract: only its anchors count, so only its BILLER_ROLE holders can anchor. */
  anchor: Address;
  /** The tenant's name, resolved on chain through UsageMeter. */
  tenant: string;
  /** How the name is registered on chain; plain text by default. */
  naming?: TenantNaming;
  /** When given, only records of these reporters are accepted. */
  reporters?: readonly Address[];
  /** The tenant's own copy of the agreed plan: a snapshot, or its hash. */
  plan?: { snapshot: unknown } | { hash: Hex };
}

export interface VerifyOptions {
  /** Also look for the period's records that no document bills. */
  complete?: boolean;
  /** Where log scans start; must be at or before the tenant's registration. Default 0. */
  fromBlock?: bigint;
  /** Blocks per eth_getLogs request at most (some providers cap it). */
  maxLogRange?: bigint;
}

/** Trust anchors checked and normalized: lower-case addresses, a naming, the plan as a hash. */
export interface Trust {
  meter: Hex;
  anchor: Hex;
  tenant: string;
  naming: TenantNaming;
  reporters: ReadonlySet<Hex> | null;
  planHash: Hex | null;
}

function address(value: string, what: string): Hex {
  if (!isAddress(value, { strict: false })) throw new VerifierError(`${what} "${value}" is not an address`);
  return getAddress(value).toLowerCase() as Hex;
}

export function normalizeTrust(t: TrustAnchors): Trust {
  let planHash: Hex | null = null;
  if (t.plan && "hash" in t.plan) {
    if (!/^0x[0-9a-fA-F]{64}$/.test(t.plan.hash)) throw new VerifierError(`plan hash "${t.plan.hash}" is not 32 bytes of hex`);
    planHash = t.plan.hash.toLowerCase() as Hex;
  } else if (t.plan) {
    const parsed = planSnapshotSchema.safeParse(t.plan.snapshot);
    if (!parsed.success) throw new VerifierError(`your plan file is not a plan snapshot: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
    planHash = documentHash(parsed.data);
  }
  if (t.tenant.length === 0) throw new VerifierError("the tenant name is empty");
  return {
    meter: address(t.meter, "meter"),
    anchor: address(t.anchor, "anchor"),
    tenant: t.tenant,
    naming: t.naming ?? plainNaming,
    reporters: t.reporters ? new Set(t.reporters.map((r) => address(r, "reporter"))) : null,
    planHash,
  };
}
