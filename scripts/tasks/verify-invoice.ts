import { readFile } from "node:fs/promises";
import { task } from "hardhat/config";
import { verifyInvoice, type InvoiceVerification } from "../../verifier/verify";

interface VerifyArgs {
  invoice: string;
  rpc?: string;
  json: boolean;
}

/** Human report: one line per invoice line, then the total. */
export function renderVerification(v: InvoiceVerification): string {
  const out = [
    `Invoice ${v.invoice.number ?? "(draft)"} ${v.invoice.periodStart} .. ${v.invoice.periodEnd} (${v.invoice.currency}), deployment ${v.deployment.address} on chain ${v.deployment.chainId}`,
  ];
  for (const p of v.problems) out.push(`  ! ${p}`);
  for (const l of v.lines) {
    out.push(`  ${l.ok ? "ok      " : "MISMATCH"} line ${l.lineNo} ${l.kind} ${l.description}: ${l.amountMinor}`);
    for (const p of l.problems) out.push(`           - ${p}`);
  }
  out.push(`  ${v.total.ok ? "ok      " : "MISMATCH"} total ${v.total.stated} (recomputed ${v.total.recomputed})`);
  out.push(v.ok ? "VERIFIED: every line matches the chain and the plan snapshot" : "NOT VERIFIED");
  return out.join("\n");
}

task("meter:verify-invoice", "Verifies an exported invoice against the chain alone; exit 1 on any mismatch")
  .addParam("invoice", "Path of the invoice JSON exported by the API")
  .addOptionalParam("rpc", "JSON-RPC URL of the chain (default: the selected network's URL)")
  .addFlag("json", "Print the verification as JSON")
  .setAction(async (args: VerifyArgs, hre) => {
    const rpc = args.rpc ?? ("url" in hre.network.config ? hre.network.config.url : undefined);
    if (!rpc) {
      console.error("error: --rpc is required on the in-process network");
      process.exitCode = 1;
      return undefined;
    }
    let json: unknown;
    try {
      json = JSON.parse(await readFile(args.invoice, "utf8"));
    } catch (err) {
      console.error(`error: cannot read ${args.invoice}: ${(err as Error).message}`);
      process.exitCode = 1;
      return undefined;
    }
    const result = await verifyInvoice(json, rpc);
    console.log(args.json ? JSON.stringify(result, null, 2) : renderVerification(result));
    if (!result.ok) process.exitCode = 1;
    return result;
  });
