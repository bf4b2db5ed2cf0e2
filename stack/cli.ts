/**
 * `npm start [-- --fresh]`: the whole Meterline stack on this machine (see stack/stack.ts).
 * Runs under `node --import tsx` (one process, so signals reach it directly) and loads Hardhat as a library, so the in-process chain lives in this process.
 * Ctrl-C / SIGTERM stop everything and exit 0; a second signal exits at once.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import pino from "pino";
import { parseStackConfig, StackConfigError } from "./config";
import { resetStackState, startStack, StackStartError } from "./stack";

async function main(): Promise<number> {
  let config;
  try {
    config = parseStackConfig(process.env, process.argv.slice(2));
  } catch (err) {
    if (err instanceof StackConfigError) {
      console.error(`start: ${err.message}`);
      return 1;
    }
    throw err;
  }
  // Before the log file is opened inside it.
  if (config.fresh) await resetStackState(config);
  await mkdir(config.home, { recursive: true });
  // Structured logs go to <home>/stack.log; the terminal gets the ready line and plain messages.
  const logger = pino(
    { level: config.logLevel, base: { service: "meterline-stack" } },
    pino.destination({ dest: path.join(config.home, "stack.log"), mkdir: true, sync: false }),
  );
  const started = Date.now();
  console.log(`Starting Meterline (state in ${config.home}${config.fresh ? ", fresh" : ""}) ...`);
  // Loaded here, not at the top: Hardhat reads its environment when first imported.
  const hre = (await import("hardhat")).default;
  let stack;
  try {
    stack = await startStack({ ...config, fresh: false }, { hre, logger });
  } catch (err) {
    // viem errors carry the whole calldata in `message`; the short form is what a human needs.
    const message = (err as { shortMessage?: string }).shortMessage ?? (err as Error).message;
    const details = (err as { details?: string }).details;
    logger.error({ err: message, details }, "start failed");
    console.error(`start: ${message}${details ? ` (${details})` : ""}`);
    logger.flush();
    return err instanceof StackStartError ? 2 : 1;
  }

  console.log(`Meterline ready: graphql=${stack.graphql ?? "unavailable"} issuer=${stack.issuer} rpc=${stack.rpc}`);
  const homeFlag = process.env.METERLINE_HOME ? ` METERLINE_HOME=${config.home}` : "";
  console.log(`(started in ${((Date.now() - started) / 1000).toFixed(1)} s; logs in ${path.join(config.home, "stack.log")})

Try it:
  TOKEN=$(${homeFlag ? `${homeFlag.trim()} ` : ""}npm run --silent token -- --tenant acme --role viewer)
  curl -s ${stack.graphql ?? "<graphql>"} -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
    -d '{"query":"{ tenant { slug } usageRecords(first: 5) { totalCount edges { node { meterId quantity sequence } } } }"}'
  Open ${stack.graphql ?? "<graphql>"} in a browser for GraphiQL (paste the token as a Bearer header).
  Pause the contract:  npx hardhat meter:pause --network localhost --reason "tour"
  Verify an invoice:   node dist/meterline-verify.mjs --rpc ${stack.rpc} --meter ${stack.state.meter} --anchor ${stack.state.anchor ?? "<none: npm start -- --fresh>"} --tenant acme invoice.json
Ctrl-C stops everything; state persists in ${config.home} (npm start -- --fresh starts over).`);

  return new Promise<number>((resolve) => {
    let stoppingSince = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      // Ctrl-C reaches this process twice (from the terminal and forwarded by npm), so only a
      // signal well after the first one means "stop now, skip cleanup".
      if (stoppingSince > 0) {
        if (Date.now() - stoppingSince < 2000) return;
        console.error(`start: ${signal} again, exiting without cleanup`);
        process.exit(130);
      }
      stoppingSince = Date.now();
      console.log(`\n${signal}: stopping Meterline ...`);
      stack.stop().then(
        () => {
          console.log("Meterline stopped.");
          logger.flush();
          resolve(0);
        },
        (err: unknown) => {
          console.error(`start: error while stopping: ${(err as Error).message}`);
          resolve(1);
        },
      );
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
