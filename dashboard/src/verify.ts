/**
 * The in-browser verification: the verifier library (verifier/, browser-safe core) against the
 * chain's RPC, with the trust anchors from this deployment's settings and the tenant's name.
 * Loaded on demand, so its code (viem, zod, the rating code) is not in the first page load.
 */
import { createPublicClient, http, type Address } from "viem";
import { verifyInvoice, type VerificationReport } from "../../verifier/index";
import type { DashboardConfig } from "./config";

/** Where no InvoiceAnchor is configured, the anchor check has nothing to trust: it fails, visibly. */
const NO_ANCHOR = "0x0000000000000000000000000000000000000000";

export async function verifyInBrowser(chain: NonNullable<DashboardConfig["chain"]>, exported: string, tenant: string): Promise<VerificationReport> {
  if (!chain.meter) throw new Error("The API was started without DASHBOARD_METER_ADDRESS: there is no UsageMeter to verify against.");
  let file: unknown;
  try {
    file = JSON.parse(exported);
  } catch {
    throw new Error("The invoice export is not JSON.");
  }
  const client = createPublicClient({ transport: http(chain.rpcUrl, { retryCount: 1 }) });
  return verifyInvoice(client, file, { meter: chain.meter as Address, anchor: (chain.anchor ?? NO_ANCHOR) as Address, tenant });
}
