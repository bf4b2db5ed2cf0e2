/**
 * The in-browser verification: the verifier library (verifier/, browser-safe core) against the
 * chain's RPC, with the trust anchors from this deployment's settings, the tenant's name and the
 * tenant's own name key. Loaded on demand, so its code (viem, zod, the rating code) is not in the
 * first page load.
 */
import { createPublicClient, http, type Address } from "viem";
import { parseNameKey } from "../../chain/naming";
import { keyedNaming, verifyInvoice, type VerificationReport } from "../../verifier/index";
import type { DashboardConfig } from "./config";

/** Where no InvoiceAnchor is configured, the anchor check has nothing to trust: it fails, visibly. */
const NO_ANCHOR = "0x0000000000000000000000000000000000000000";

/**
 * `nameKey` is the tenant's name key as the platform handed it over (0x-hex or text). It stays in
 * this call: the tenant's name is hashed with it here, and only the hash goes to the RPC.
 */
export async function verifyInBrowser(chain: NonNullable<DashboardConfig["chain"]>, exported: string, tenant: string, nameKey: string): Promise<VerificationReport> {
  if (!chain.meter) throw new Error("The API was started without DASHBOARD_METER_ADDRESS: there is no UsageMeter to verify against.");
  if (nameKey.trim() === "") throw new Error("Enter your name key first: the chain knows your tenant only by its name hashed under that key.");
  let file: unknown;
  try {
    file = JSON.parse(exported);
  } catch {
    throw new Error("The invoice export is not JSON.");
  }
  // A key that is too short is a VerifierError naming the minimum length.
  const naming = keyedNaming(parseNameKey(nameKey));
  const client = createPublicClient({ transport: http(chain.rpcUrl, { retryCount: 1 }) });
  return verifyInvoice(client, file, { meter: chain.meter as Address, anchor: (chain.anchor ?? NO_ANCHOR) as Address, tenant, naming });
}
