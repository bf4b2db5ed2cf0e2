import type { HardhatUserConfig } from "hardhat/config";
import { subtask } from "hardhat/config";
import { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } from "hardhat/builtin-tasks/task-names";
import "@nomicfoundation/hardhat-ethers";
import "@nomicfoundation/hardhat-chai-matchers";
import "@typechain/hardhat";
import "solidity-coverage";
import "./scripts/tasks";
import { resolveRpc, StackLocationError } from "./chain/local-stack";

const SOLC_VERSION = "0.8.30";

// No network access to binaries.soliditylang.org: compile with the solc-js build that ships in
// the `solc` npm package (pinned to SOLC_VERSION in package.json).
subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args: { solcVersion: string }, _hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) return runSuper(args);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const solc = require("solc") as { version(): string };
  return {
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: SOLC_VERSION,
    longVersion: solc.version(),
  };
});

const rpcUrl = process.env.METERLINE_RPC_URL;
const deployerKey = process.env.METERLINE_PRIVATE_KEY;

/** The network this invocation selected (`--network x`, `--network=x` or HARDHAT_NETWORK). */
function selectedNetwork(argv: readonly string[] = process.argv): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--network") return argv[i + 1];
    if (argv[i]!.startsWith("--network=")) return argv[i]!.slice("--network=".length);
  }
  return process.env.HARDHAT_NETWORK;
}

/**
 * `localhost` is the running `npm start` stack: METERLINE_RPC_URL, else the RPC recorded in
 * <METERLINE_HOME>/stack.json by a live stack. Without either, a task on `--network localhost`
 * stops with one line instead of silently using 127.0.0.1:8545, which may be another chain.
 */
function localhostUrl(): string {
  try {
    // Relative to the repository root, as for the npm scripts (npx hardhat may run from a subfolder).
    return resolveRpc(process.env, __dirname).url;
  } catch (err) {
    if (!(err instanceof StackLocationError)) throw err;
    if (selectedNetwork() === "localhost") {
      process.stderr.write(`error: network localhost: ${err.message}\n`);
      process.exit(1);
    }
    // Not selected: any syntactically valid URL keeps the config loadable; `.invalid` never resolves.
    return "http://meterline-stack-not-running.invalid:8545";
  }
}

const config: HardhatUserConfig = {
  solidity: {
    version: SOLC_VERSION,
    settings: {
      evmVersion: "prague",
      optimizer: { enabled: true, runs: 10_000 },
    },
  },
  networks: {
    hardhat: {
      hardfork: "osaka",
      // Blocks must carry real parent hashes for the indexer's reorg detection.
      allowUnlimitedContractSize: false,
    },
    localhost: {
      url: localhostUrl(),
      ...(deployerKey ? { accounts: [deployerKey] } : {}),
    },
    ...(rpcUrl
      ? {
          custom: {
            url: rpcUrl,
            ...(deployerKey ? { accounts: [deployerKey] } : {}),
          },
        }
      : {}),
  },
  typechain: {
    outDir: "scripts/typechain-types",
    target: "ethers-v6",
  },
  mocha: {
    timeout: 600_000,
  },
};

export default config;
