/**
 * Anchoring's settings, part of the billing worker's environment. Anchoring is on when a signer is
 * configured (BILLING_SIGNER_KEY, or BILLING_SIGNER_KEYSTORE with BILLING_SIGNER_PASSWORD); it then
 * needs RPC_URL, and the anchor's address from ANCHOR_ADDRESS or the deployment file of the RPC's chain.
 */
import { getAddress, isAddress, type Address, type Hex } from "viem";
import { z } from "zod";
import { envInt, type SettingDoc } from "../../db/service-config";
import { Secret, type SignerSource } from "./signer";

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v && v.trim() !== "" ? v.trim() : undefined));

export const anchoringEnvSchema = z.object({
  BILLING_SIGNER_KEY: optionalText.refine((v) => v === undefined || /^0x[0-9a-fA-F]{64}$/.test(v), "BILLING_SIGNER_KEY: expected a 0x-prefixed 32-byte hex private key"),
  BILLING_SIGNER_KEYSTORE: optionalText,
  BILLING_SIGNER_PASSWORD: z.string().optional(),
  RPC_URL: optionalText.refine((v) => v === undefined || /^https?:\/\/.+/.test(v), "RPC_URL: must be an http(s) URL"),
  ANCHOR_ADDRESS: optionalText.refine((v) => v === undefined || isAddress(v, { strict: false }), "ANCHOR_ADDRESS: expected a 0x-prefixed 20-byte address"),
  DEPLOYMENTS_DIR: optionalText,
  ANCHOR_CONFIRMATIONS: z.string().optional(),
  ANCHOR_RECEIPT_TIMEOUT_MS: envInt("ANCHOR_RECEIPT_TIMEOUT_MS", 5_000, 0, 600_000),
});

export interface AnchoringConfig {
  signer: SignerSource;
  rpcUrl: string;
  /** From ANCHOR_ADDRESS; otherwise the `anchor` of `deploymentsDir`/<chainId>.json. */
  anchorAddress?: Address;
  deploymentsDir?: string;
  /** Blocks an anchor must be under before its job is done (a shallower one is re-checked for reorgs). */
  confirmations: number;
  /** How long a pass waits for a just-sent anchor's receipt before moving on (the next pass checks again). */
  receiptTimeoutMs: number;
}

export const ANCHORING_SETTINGS: SettingDoc[] = [
  { name: "BILLING_SIGNER_KEY", default: "(none)", meaning: "0x private key of the account holding the anchor's BILLER_ROLE; anchoring is off without a signer" },
  { name: "BILLING_SIGNER_KEYSTORE", default: "(none)", meaning: "or: a V3 keystore file with that key (with BILLING_SIGNER_PASSWORD)" },
  { name: "BILLING_SIGNER_PASSWORD", default: "(none)", meaning: "the keystore's password" },
  { name: "RPC_URL", default: "(none)", meaning: "JSON-RPC endpoint anchors are sent to (required with a signer)" },
  { name: "ANCHOR_ADDRESS", default: "(deployment file)", meaning: "InvoiceAnchor address; default: `anchor` of DEPLOYMENTS_DIR/<chainId>.json" },
  { name: "DEPLOYMENTS_DIR", default: "deployments", meaning: "where meter:deploy wrote <chainId>.json" },
  { name: "ANCHOR_CONFIRMATIONS", default: "CONFIRMATIONS", meaning: "blocks under an anchor before it is final (until then a reorg re-sends it)" },
  { name: "ANCHOR_RECEIPT_TIMEOUT_MS", default: "5000", meaning: "how long a pass waits for an anchor's receipt" },
];

export class AnchoringConfigError extends Error {
  override name = "AnchoringConfigError";
}

/** Anchoring's part of the parsed environment, or null when no signer is configured. */
export function anchoringFromEnv(e: z.infer<typeof anchoringEnvSchema>, defaultConfirmations: number): AnchoringConfig | null {
  if (e.BILLING_SIGNER_KEY && e.BILLING_SIGNER_KEYSTORE) throw new AnchoringConfigError("BILLING_SIGNER_KEYSTORE: set either BILLING_SIGNER_KEY or a keystore, not both");
  let signer: SignerSource;
  if (e.BILLING_SIGNER_KEY) signer = { kind: "key", key: new Secret(e.BILLING_SIGNER_KEY as Hex) };
  else if (e.BILLING_SIGNER_KEYSTORE) {
    if (e.BILLING_SIGNER_PASSWORD === undefined) throw new AnchoringConfigError("BILLING_SIGNER_PASSWORD: required with BILLING_SIGNER_KEYSTORE");
    signer = { kind: "keystore", path: e.BILLING_SIGNER_KEYSTORE, password: new Secret(e.BILLING_SIGNER_PASSWORD) };
  } else return null;
  if (!e.RPC_URL) throw new AnchoringConfigError("RPC_URL: required when a billing signer is configured (anchors are sent there)");
  let confirmations = defaultConfirmations;
  if (e.ANCHOR_CONFIRMATIONS !== undefined && e.ANCHOR_CONFIRMATIONS.trim() !== "") {
    if (!/^\d+$/.test(e.ANCHOR_CONFIRMATIONS.trim())) throw new AnchoringConfigError("ANCHOR_CONFIRMATIONS: expected a non-negative integer");
    confirmations = Number(e.ANCHOR_CONFIRMATIONS.trim());
  }
  return {
    signer,
    rpcUrl: e.RPC_URL,
    ...(e.ANCHOR_ADDRESS ? { anchorAddress: getAddress(e.ANCHOR_ADDRESS) } : {}),
    ...(e.DEPLOYMENTS_DIR ? { deploymentsDir: e.DEPLOYMENTS_DIR } : {}),
    confirmations,
    receiptTimeoutMs: e.ANCHOR_RECEIPT_TIMEOUT_MS,
  };
}
