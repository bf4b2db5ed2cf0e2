import { task, types } from "hardhat/config";
import { custom } from "viem";
import { reportingErrors, parseReporterConfig, runReporter } from "../../reporter";
import { createReporterLogger, reporterLogSettings } from "../../reporter/logger";
import { networkUrl } from "./lib/network";


/**
 * meter:submit — the reporter client as a Hardhat task, talking to the selected network
 * through Hardhat's provider. Signer from METERLINE_REPORTER_KEY or the keystore variables.
 */
task("meter:submit", "Submits usage (JSON Lines or CSV) through commit-reveal, resuming the journal")
  .addOptionalPositionalParam("input", "usage file (.jsonl or .csv); omit with --resume")
  .addOptionalParam("format", "jsonl or csv (default: from the file name)")
  .addOptionalParam("meter", "UsageMeter address (default: METERLINE_DEPLOYMENT, the running stack's deployment, else deployments/<chainId>.json)")
  .addOptionalParam("journal", "journal directory (default: METERLINE_REPORTER_JOURNAL or .meterline/reporter-journal)")
  .addOptionalParam("batchSize", "records per batch (1..500)", undefined, types.int)
  .addOptionalParam("relay", "write EIP-712 signed commit payloads to this file instead of sending")
  .addOptionalParam("fromBlock", "first block scanned for already submitted refs (default: the deployment's block)")
  .addOptionalParam("nameKey", "your tenant's name key, env:<VARIABLE> or file:<path> (default: METERLINE_NAME_KEY when set)")
  .addFlag("resume", "only finish batches already in the journal")
  .setAction((args: { input?: string; format?: string; meter?: string; journal?: string; batchSize?: number; relay?: string; fromBlock?: string; nameKey?: string; resume: boolean }, hre) => reportingErrors("meter:submit", async () => {
    const argv: string[] = [];
    if (args.input) argv.push("--input", args.input);
    if (args.format) argv.push("--format", args.format);
    if (args.meter) argv.push("--meter", args.meter);
    if (args.journal) argv.push("--journal", args.journal);
    if (args.batchSize !== undefined) argv.push("--batch-size", String(args.batchSize));
    if (args.relay) argv.push("--relay", args.relay);
    if (args.fromBlock) argv.push("--from-block", args.fromBlock);
    if (args.nameKey) argv.push("--name-key", args.nameKey);
    if (args.resume) argv.push("--resume");
    const config = parseReporterConfig(process.env, argv);
    const result = await runReporter(config, {
      transport: custom(hre.network.provider),
      logger: createReporterLogger("meter:submit", reporterLogSettings(process.env)),
      ...(networkUrl(hre) ? { rpcUrl: networkUrl(hre)! } : {}),
      // The in-process network only mines on transactions; mine while waiting for the reveal delay.
      mineWhileWaiting: hre.network.name === "hardhat",
    });
    console.log(JSON.stringify(result));
    return result;
  }));
