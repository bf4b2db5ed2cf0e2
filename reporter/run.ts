import { readFile } from "node:fs/promises";
import { createPublicClient, createWalletClient, type Address, type Transport } from "viem";
import { DeploymentFileError } from "../chain/deployment";
import { resolveDeploymentFile } from "../chain/local-stack";
import { NameKeySourceError, readNameKey } from "../chain/name-key";
import { keyedNaming, NamingError, parseNameKey, type ChainNaming } from "../chain/naming";
import { Reporter, mineUntil, type Logger, type RelayPayload } from "./client";
import type { ReporterConfig } from "./config";
import { ReporterConfigError } from "./errors";
import { parseUsage } from "./input";
import { Journal, writeDurably } from "./journal";
import { PRIVATE_FILE_MODE } from "./private-files";
import { loadAccount } from "./signer";
import type { PlannedBatch } from "./journal";

export interface RunReporterDeps {
  transport: Transport;
  /** The URL `transport` talks to, when known: a running stack's RPC selects that stack's deployment record. */
  rpcUrl?: string;
  logger: Logger;
  /** Mine empty blocks while waiting for the reveal delay (automining development chains only). */
  mineWhileWaiting?: boolean;
  afterCommitMined?: (batch: PlannedBatch) => Promise<void>;
}

interface ResultBase {
  meter: Address;
  reporter: Address;
  job?: string;
  /** Usage lines in the input. */
  records: number;
  /** Lines not sent because their ref was already submitted for the tenant (see the log's summary line). */
  skipped: number;
}

export type RunReporterResult =
  | (ResultBase & { mode: "submit"; resumed: boolean; revealed: number; revealedRecords: number; alreadyRevealed: number; replanned: number })
  | (ResultBase & { mode: "relay"; payloadFile: string; items: number; signed: number });

/** The keyed naming of the configured name key; an unreadable or short key is a settings error (exit 2). */
async function nameKeyNaming(nameKey: NonNullable<ReporterConfig["nameKey"]>): Promise<ChainNaming> {
  try {
    const key = "text" in nameKey ? parseNameKey(nameKey.text) : await readNameKey(`file:${nameKey.file}`, { flag: nameKey.setting });
    return keyedNaming(key);
  } catch (err) {
    if (!(err instanceof NamingError)) throw err;
    const message = err instanceof NameKeySourceError ? err.message : `${nameKey.setting}: ${err.message}`;
    throw new ReporterConfigError(message, { cause: err });
  }
}

/** UsageMeter from the deployment record that belongs to this chain (see resolveDeploymentFile). */
function deployedMeter(chainId: number, rpcUrl: string | undefined): Address {
  const { file, deployment } = resolveDeploymentFile(chainId, rpcUrl);
  if (!deployment) {
    throw new DeploymentFileError(`no UsageMeter deployment for chain ${chainId} (${file}): pass --meter, set METERLINE_DEPLOYMENT (or METERLINE_HOME of the running stack), or run meter:deploy first`);
  }
  return deployment.address;
}

/**
 * What `npm run reporter` and `meter:submit` do: validate the whole input first (nothing is
 * journaled or sent when a line is bad), then journal, commit and reveal — or, with `--relay`,
 * journal and write signed commit payloads for a relayer.
 */
export async function runReporter(config: ReporterConfig, deps: RunReporterDeps): Promise<RunReporterResult> {
  // Parse before touching key material or the network: a bad file fails fast and offline.
  const inputs = config.input ? parseUsage(await readFile(config.input, "utf8"), config.format ?? "jsonl") : [];
  const naming = config.nameKey === undefined ? undefined : await nameKeyNaming(config.nameKey);
  const publicClient = createPublicClient({ transport: deps.transport });
  const chainId = await publicClient.getChainId();
  const meter = config.meter ?? deployedMeter(chainId, deps.rpcUrl);
  const account = await loadAccount(config.signer);
  const journal = await Journal.open(config.journalDir, { chainId, meter, reporter: account.address });
  const walletClient = config.relayOut ? undefined : createWalletClient({ account, transport: deps.transport });
  const reporter = new Reporter({
    publicClient,
    ...(walletClient ? { walletClient } : {}),
    account,
    meter,
    journal,
    logger: deps.logger,
    batchSize: config.batchSize,
    pollIntervalMs: config.pollIntervalMs,
    ...(deps.mineWhileWaiting ? { waitForBlock: mineUntil(publicClient) } : {}),
    ...(deps.afterCommitMined ? { afterCommitMined: deps.afterCommitMined } : {}),
    ...(config.fromBlock !== undefined ? { fromBlock: config.fromBlock } : {}),
    ...(naming ? { naming } : {}),
  });
  const planned = inputs.length > 0 ? await reporter.plan(inputs, config.input ?? "input") : undefined;
  const base = {
    meter,
    reporter: account.address,
    ...(planned ? { job: planned.job.id } : {}),
    records: inputs.length,
    skipped: planned?.job.skippedLines?.length ?? 0,
  };
  if (config.relayOut) {
    const now = BigInt(Math.floor(Date.now() / 1000));
    const payload: RelayPayload = await reporter.signRelayPayload(now + BigInt(config.relayDeadlineSeconds));
    // Owner-only: until revealed, the salts in it let anyone reveal (or front-run) the usage.
    await writeDurably(config.relayOut, payload, PRIVATE_FILE_MODE);
    return {
      mode: "relay",
      ...base,
      payloadFile: config.relayOut,
      items: payload.items.length,
      signed: payload.items.filter((i) => i.signature).length,
    };
  }
  const run = await reporter.run();
  return { mode: "submit", ...base, resumed: planned?.resumed ?? false, ...run };
}
