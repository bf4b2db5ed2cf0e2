/**
 * `npm start [-- --fresh]`: the whole Meterline stack on this machine (see stack/stack.ts).
 * Runs under `node --import tsx` (one process, so signals reach it directly) and loads Hardhat as a library, so the in-process chain lives in this process.
 * Ctrl-C / SIGTERM stop everything and exit 0; a second signal exits at once.
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { DEFAULT_DASHBOARD_DIR } from "../api/http/dashboard";
import { findRunningStack } from "../chain/local-stack";
import { createLogger } from "../db/logger";
import { assertPortsFree, portErrorLine, PortInUseError } from "../db/ports";
import { DEFAULT_HOME, parseStackConfig, StackConfigError } from "./config";
import { resetStackState, startStack, StackStartError } from "./stack";
import { markStackStopped, type StackState } from "./state";

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
  // One stack per home: a second one would share the database directory and overwrite stack.json.
  // An unreadable or garbled stack.json is no running stack: the ready stack rewrites it.
  const running = (() => {
    try {
      return findRunningStack(config.home);
    } catch {
      return undefined;
    }
  })();
  if (running?.kind === "running") {
    console.error(`start: a stack already runs from ${config.home} (pid ${running.stack.pid}, rpc ${running.stack.rpc}): stop it first, or set METERLINE_HOME to another directory`);
    return 1;
  }
  // Before anything is reset or bound: a taken port is one line naming the variable to change
  // (Hardhat's JSON-RPC server would otherwise crash the process on an unhandled error event).
  try {
    await assertPortsFree(config.host, [
      { port: config.rpcPort, variable: "METERLINE_RPC_PORT" },
      { port: config.idpPort, variable: "METERLINE_IDP_PORT" },
      { port: config.apiPort, variable: "METERLINE_API_PORT" },
    ]);
  } catch (err) {
    if (err instanceof PortInUseError) {
      console.error(`start: ${err.message}`);
      return 1;
    }
    throw err;
  }
  // Before the log file is opened inside it.
  if (config.fresh) await resetStackState(config);
  await mkdir(config.home, { recursive: true });
  // Structured logs go to <home>/stack.log (JSON lines); the terminal gets the ready line and plain messages.
  const logger = createLogger({ service: "meterline-stack", level: config.logLevel, file: path.join(config.home, "stack.log") });
  const started = Date.now();
  console.log(`Starting Meterline (state in ${config.home}${config.fresh ? ", fresh" : ""}) ...`);
  // Loaded here, not at the top: Hardhat reads its environment when first imported.
  const hre = (await import("hardhat")).default;
  let stack;
  try {
    stack = await startStack({ ...config, fresh: false }, { hre, logger });
  } catch (err) {
    // viem errors carry the whole calldata in `message`; the short form is what a human needs.
    // A port taken after the check above (a race) still names its variable.
    const taken = (err as { port?: number }).port;
    const variable = taken === config.idpPort ? "METERLINE_IDP_PORT" : taken === config.apiPort ? "METERLINE_API_PORT" : taken === config.rpcPort ? "METERLINE_RPC_PORT" : undefined;
    const message = (variable && taken !== undefined && portErrorLine(err, taken, variable)) || ((err as { shortMessage?: string }).shortMessage ?? (err as Error).message);
    const details = (err as { details?: string }).details;
    logger.error({ err: message, details }, "start failed");
    console.error(`start: ${message}${details ? ` (${details})` : ""}`);
    logger.flush();
    return err instanceof StackStartError ? 2 : 1;
  }

  console.log(`Meterline ready: graphql=${stack.graphql ?? "unavailable"} issuer=${stack.issuer} rpc=${stack.rpc}`);
  // Every client finds this stack through <home>/stack.json; a non-default home must be named.
  const homeEnv = config.home === path.resolve(DEFAULT_HOME) ? "" : `METERLINE_HOME=${config.home} `;
  console.log(`(started in ${((Date.now() - started) / 1000).toFixed(1)} s; logs in ${path.join(config.home, "stack.log")}; where it runs: ${path.join(config.home, "stack.json")})

Try it:
  TOKEN=$(${homeEnv}npm run --silent token -- --tenant acme --role viewer)
  curl -s ${stack.graphql ?? "<graphql>"} -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
    -d '{"query":"{ tenant { slug } usageRecords(first: 5) { totalCount edges { node { meterId quantity sequence } } } }"}'
  Open ${stack.graphql ?? "<graphql>"} in a browser for GraphiQL (paste the token as a Bearer header).
${dashboardLines(stack.state)}
  Pause the contract:  ${homeEnv}npx hardhat meter:pause --network localhost --reason "tour"
  Verify an invoice:   node dist/meterline-verify.mjs --rpc ${stack.rpc} --meter ${stack.state.meter} --anchor ${stack.state.anchor ?? "<none: npm start -- --fresh>"} --tenant acme --name-key file:${config.home}/name-keys/acme.key invoice.json
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
        async () => {
          // Readers (token, tasks, reporter) must not mistake a stopped stack's ports for it.
          await markStackStopped(config.home, stack.state).catch((err: unknown) => console.error(`start: cannot mark ${config.home}/stack.json stopped: ${(err as Error).message}`));
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

/** Where the dashboard is and who may sign in (local demo credentials: printed on purpose, dev only). */
function dashboardLines(state: StackState): string {
  const d = state.dashboard;
  if (!d) return "";
  const tenants = [...new Set(state.clients.map((c) => c.tenant))];
  return [
    `Dashboard: ${d.url}${existsSync(path.join(DEFAULT_DASHBOARD_DIR, "index.html")) ? "" : " (not built yet: run npm run build:dashboard; no restart needed)"}`,
    `  demo users: <tenant>-<role> with tenant ${tenants.join(" | ")} and role viewer | operator | admin | auditor, or platform-admin`,
    `  e.g. user acme-admin, password ${d.password} (the same for every demo user; dev only)`,
  ].join("\n");
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
