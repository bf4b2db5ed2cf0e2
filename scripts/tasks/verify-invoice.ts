import { task } from "hardhat/config";
import { runVerifier, type CliOptions } from "../../verifier/cli";

type VerifyArgs = Omit<CliOptions, "rpc"> & { rpc?: string };

/** The verifier's CLI as a task, with the same options; the RPC defaults to the selected network's. */
task("meter:verify-invoice", "Verifies an exported invoice against the chain alone, with your own trust anchors; exit 1 unless VERIFIED")
  .addParam("invoice", "Path of the invoice export (meterline.invoice.v2)")
  .addParam("meter", "Address of the UsageMeter contract, from your configuration")
  .addParam("anchor", "Address of the InvoiceAnchor contract, from your configuration")
  .addParam("tenant", "Your tenant name, as registered on chain")
  .addOptionalParam("rpc", "JSON-RPC URL of the chain (default: the selected network's URL)")
  .addOptionalParam("nameKey", "Your name is registered as HMAC-SHA256(key, name): the key (0x-hex or text), env:<VARIABLE> or file:<path>")
  .addOptionalParam("reporters", "Comma-separated reporter addresses: accept records only from these")
  .addOptionalParam("plan", "Your copy of the agreed plan snapshot (a file), or its 0x hash")
  .addOptionalParam("fromBlock", "Start log scans at this block (at or before your tenant's registration)")
  .addOptionalParam("maxLogRange", "At most this many blocks per eth_getLogs request")
  .addFlag("complete", "Also list the period's records that no document bills")
  .addFlag("json", "Print the full report as JSON")
  .setAction(async (args: VerifyArgs, hre) => {
    const rpc = args.rpc ?? ("url" in hre.network.config ? hre.network.config.url : undefined);
    if (!rpc) {
      console.error("error: --rpc is required on the in-process network");
      process.exitCode = 2;
      return undefined;
    }
    const code = await runVerifier({ ...args, rpc }, { out: (t) => console.log(t), err: (t) => console.error(t) });
    process.exitCode = code;
    return code;
  });
