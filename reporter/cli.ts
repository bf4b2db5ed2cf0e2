/**
 * `npm run reporter -- <usage.jsonl|csv>`: submits usage through commit-reveal from a wallet,
 * resuming whatever a previous run left in its journal. Exit codes: 0 done, 2 bad config, input
 * or journal permissions (nothing submitted), 1 anything else (the journal lets a rerun finish
 * the work).
 */
import { http } from "viem";
import { resolveRpc, StackLocationError } from "../chain/local-stack";
import { ReporterConfigError, exitCodeOf, parseReporterConfig, runReporter } from ".";
import { createReporterLogger, reporterLogSettings } from "./logger";

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const mine = argv.includes("--mine");
  let config;
  let logger;
  let rpcUrl: string;
  try {
    config = parseReporterConfig(process.env, argv.filter((a) => a !== "--mine"));
    logger = createReporterLogger("reporter", reporterLogSettings(process.env));
    // Without --rpc / METERLINE_RPC_URL: the stack `npm start` runs from METERLINE_HOME, never
    // whatever else may listen on 127.0.0.1:8545.
    rpcUrl = config.rpcUrl ?? resolveRpc(process.env).url;
  } catch (err) {
    if (err instanceof ReporterConfigError || err instanceof StackLocationError) {
      console.error(`reporter: ${err.message}${err instanceof StackLocationError ? " (or pass --rpc)" : ""}`);
      return 2;
    }
    throw err;
  }
  // Test hook: stop dead after the N-th mined commit so a test can SIGKILL the process at the
  // worst moment (between commit and reveal).
  const pauseAfter = Number(process.env.METERLINE_REPORTER_TEST_PAUSE_AFTER_COMMIT ?? "0");
  let commits = 0;
  try {
    const result = await runReporter(config, {
      transport: http(rpcUrl),
      rpcUrl,
      logger,
      mineWhileWaiting: mine,
      ...(pauseAfter > 0
        ? {
            afterCommitMined: async (batch) => {
              commits += 1;
              if (commits === pauseAfter) {
                process.stdout.write(`PAUSED_AFTER_COMMIT ${batch.id}\n`);
                // A live timer keeps the event loop (and so the process) up until the test kills it.
                await new Promise(() => setInterval(() => undefined, 60_000));
              }
            },
          }
        : {}),
    });
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  } catch (err) {
    console.error(`reporter: ${(err as Error).message}`);
    return exitCodeOf(err);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
