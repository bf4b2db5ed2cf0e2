import { randomBytes } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import type pg from "pg";
import {
  createPublicClient,
  createWalletClient,
  custom,
  keccak256,
  stringToHex,
  toHex,
  type Address,
  type EIP1193Provider,
  type Hex,
} from "viem";
import { mnemonicToAccount, type HDAccount } from "viem/accounts";
import { abiHash, writeDeployment, type Deployment } from "../chain/deployment";
import { invoiceAnchorAbi, usageMeterAbi } from "../chain/abi.generated";
import { keyedNaming, parseNameKey, plainNaming, type ChainNaming } from "../chain/naming";
import { ANCHOR_ROLES } from "../chain/roles";
import { recordNames } from "../indexer/store/names";
import { Journal, Reporter, mineUntil, writeDurably, type Logger, type UsageInput } from "../reporter";

/** Hardhat's well-known development mnemonic: the in-process chain funds these accounts. */
const DEV_MNEMONIC = "test test test test test test test test test test test junk";
export function devAccount(index: number): HDAccount {
  return mnemonicToAccount(DEV_MNEMONIC, { addressIndex: index });
}

/** The dev account the stack's billing worker anchors with (holder of the anchor's BILLER_ROLE). */
export const DEMO_BILLER_INDEX = 9;

/** A dev account's private key (Hardhat's public development keys: local demo only). */
export function devPrivateKey(index: number): Hex {
  return toHex(devAccount(index).getHdKey().privateKey!);
}

export const DEMO_MIN_REVEAL_DELAY = 1;
export const DEMO_MAX_REVEAL_DELAY = 256;

export interface DemoTenant {
  slug: string;
  meters: string[];
  /** Index of the dev account reporting for this tenant. */
  reporterIndex: number;
  /**
   * How the tenant's names are written on chain: keyed with its demo name key (see
   * {@link withDemoNameKeys}); plain only for a demo chain registered before keyed names.
   */
  naming?: ChainNaming;
}

/** `<home>/name-keys/<slug>.key`: the demo tenant's name key, as the platform would hand it over. */
export function demoNameKeyPath(home: string, slug: string): string {
  return path.join(home, "name-keys", `${slug}.key`);
}

/**
 * Gives each demo tenant its name key, kept in the stack's home (owner-only files, 0x-hex, never
 * logged): read when present, created for a new chain. A recorded chain whose tenant has no key
 * file was registered before keyed names, so that tenant keeps plain naming.
 */
export async function withDemoNameKeys(home: string, tenants: readonly DemoTenant[], newChain: boolean): Promise<DemoTenant[]> {
  await mkdir(path.join(home, "name-keys"), { recursive: true, mode: 0o700 });
  return Promise.all(
    tenants.map(async (t) => {
      const file = demoNameKeyPath(home, t.slug);
      let text: string | undefined;
      try {
        text = await readFile(file, "utf8");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
      if (text === undefined && !newChain) return { ...t, naming: plainNaming };
      if (text === undefined) {
        text = `0x${randomBytes(32).toString("hex")}`;
        await writeDurably(file, null, 0o600, `${text}\n`);
      }
      return { ...t, naming: keyedNaming(parseNameKey(text)) };
    }),
  );
}

/**
 * Records what the demo tenants' on-chain names stand for, so the indexer labels them with their
 * slugs (idempotent; run before the indexer starts).
 */
export async function recordDemoNames(pool: pg.Pool, tenants: readonly DemoTenant[]): Promise<void> {
  for (const t of tenants) {
    const naming = t.naming ?? plainNaming;
    if (!naming.keyed) continue;
    await recordNames(pool, {
      tenant: { slug: t.slug, onchainName: naming.onchainName(t.slug) },
      meters: t.meters.map((m) => ({ name: m, onchainName: naming.onchainMeterName(m) })),
    });
  }
}

type Provider = Pick<EIP1193Provider, "request">;

/**
 * Deploys UsageMeter from dev account 0 (admin, tenant manager and pauser: a local chain needs
 * no multisig), registers the demo tenants and their meters under their keyed names (nothing
 * readable on chain, as in production), authorizes one reporter each, deploys InvoiceAnchor
 * beside it (BILLER_ROLE to dev account {@link DEMO_BILLER_INDEX}, the stack's billing key) and
 * writes deployments/<chainId>.json so the Hardhat tasks find both.
 */
export async function deployDemo(
  provider: Provider,
  bytecode: Hex,
  tenants: readonly DemoTenant[],
  deploymentsDir: string | undefined,
  anchorBytecode?: Hex,
): Promise<Deployment> {
  const transport = custom(provider);
  const publicClient = createPublicClient({ transport });
  const admin = createWalletClient({ account: devAccount(0), transport });
  const chainId = await publicClient.getChainId();
  const constructorArgs = { adminDelay: 0, admin: admin.account.address, minRevealDelay: DEMO_MIN_REVEAL_DELAY, maxRevealDelay: DEMO_MAX_REVEAL_DELAY };
  const txHash = await admin.deployContract({
    abi: usageMeterAbi,
    bytecode,
    args: [constructorArgs.adminDelay, constructorArgs.admin, constructorArgs.minRevealDelay, constructorArgs.maxRevealDelay],
    chain: null,
  });
  const receipt = await publicClient.waitForTransactionReceipt({ hash: txHash });
  const address = receipt.contractAddress as Address;
  const send = async (functionName: string, args: readonly unknown[]) => {
    const hash = await admin.writeContract({ address, abi: usageMeterAbi, functionName: functionName as never, args: args as never, chain: null });
    const r = await publicClient.waitForTransactionReceipt({ hash });
    if (r.status !== "success") throw new Error(`${functionName} failed during demo setup`);
  };
  const read = (functionName: "TENANT_MANAGER_ROLE" | "PAUSER_ROLE") => publicClient.readContract({ address, abi: usageMeterAbi, functionName });
  await send("grantRole", [await read("TENANT_MANAGER_ROLE"), admin.account.address]);
  await send("grantRole", [await read("PAUSER_ROLE"), admin.account.address]);
  for (const [i, t] of tenants.entries()) {
    const naming = t.naming ?? plainNaming;
    await send("registerTenant", [naming.onchainName(t.slug)]);
    for (const m of t.meters) await send("registerMeter", [i + 1, naming.onchainMeterName(m)]);
    await send("authorizeReporter", [i + 1, devAccount(t.reporterIndex).address]);
  }
  const deployment: Deployment = {
    chainId,
    contract: "UsageMeter",
    address,
    deployBlock: Number(receipt.blockNumber),
    deployBlockHash: receipt.blockHash,
    txHash,
    constructorArgs,
    abiHash: abiHash(usageMeterAbi),
  };
  if (anchorBytecode) {
    const anchorArgs = { adminDelay: 0, admin: admin.account.address, usageMeter: address };
    const anchorTx = await admin.deployContract({ abi: invoiceAnchorAbi, bytecode: anchorBytecode, args: [0, admin.account.address, address], chain: null });
    const r = await publicClient.waitForTransactionReceipt({ hash: anchorTx });
    const anchor = r.contractAddress as Address;
    for (const [role, account] of [
      [ANCHOR_ROLES.BILLER_ROLE, devAccount(DEMO_BILLER_INDEX).address],
      [ANCHOR_ROLES.PAUSER_ROLE, admin.account.address],
    ] as const) {
      const hash = await admin.writeContract({ address: anchor, abi: invoiceAnchorAbi, functionName: "grantRole", args: [role, account], chain: null });
      if ((await publicClient.waitForTransactionReceipt({ hash })).status !== "success") throw new Error("granting an InvoiceAnchor role failed during demo setup");
    }
    deployment.anchor = {
      contract: "InvoiceAnchor",
      address: anchor,
      deployBlock: Number(r.blockNumber),
      deployBlockHash: r.blockHash,
      txHash: anchorTx,
      constructorArgs: anchorArgs,
      abiHash: abiHash(invoiceAnchorAbi),
    };
  }
  writeDeployment(deployment, ...(deploymentsDir ? [deploymentsDir] : []));
  return deployment;
}

export interface DemoReporter {
  /** Resolves after the submission in flight (if any) has finished. */
  stop(): Promise<void>;
}

/**
 * Every `intervalMs`, each demo tenant's reporter submits a few usage records for the last
 * minute of chain time through the real reporter client (journal, commit, reveal), so the
 * numbers move. A failed round (e.g. the contract is paused) is logged and resumed next round.
 */
export async function startDemoReporter(args: {
  provider: Provider;
  meter: Address;
  tenants: readonly DemoTenant[];
  journalDir: string;
  intervalMs: number;
  logger: Logger;
  /** Also submit, once, usage in the middle of the previous UTC month (a billable, closed period). */
  previousMonth?: boolean;
}): Promise<DemoReporter> {
  const transport = custom(args.provider);
  const publicClient = createPublicClient({ transport });
  const chainId = await publicClient.getChainId();
  const reporters = await Promise.all(
    args.tenants.map(async (t) => {
      const account = devAccount(t.reporterIndex);
      const journal = await Journal.open(path.resolve(args.journalDir), { chainId, meter: args.meter, reporter: account.address });
      const reporter = new Reporter({
        publicClient,
        walletClient: createWalletClient({ account, transport }),
        account,
        meter: args.meter,
        journal,
        logger: args.logger,
        batchSize: 100,
        waitForBlock: mineUntil(publicClient),
        ...(t.naming ? { naming: t.naming } : {}),
      });
      return { tenant: t, reporter };
    }),
  );
  let stopped = false;
  let round = 0;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();

  const tick = async () => {
    try {
      await submitRound();
    } catch (err) {
      args.logger.warn({ err: (err as Error).message }, "demo reporter round failed; will retry");
    }
  };
  const submitRound = async () => {
    round += 1;
    const block = await publicClient.getBlock({ blockTag: "latest" });
    const end = Number(block.timestamp);
    for (const { tenant, reporter } of reporters) {
      if (stopped) return;
      const inputs: UsageInput[] = tenant.meters.map((meter, i) => ({
        line: i + 1,
        tenant: { name: tenant.slug },
        meter: { name: meter },
        periodStart: end - 60,
        periodEnd: end,
        quantity: BigInt(1 + Math.floor(Math.random() * (i === 0 ? 500 : 50))),
        ref: keccak256(stringToHex(`demo:${tenant.slug}:${meter}:${end}:${round}`)),
      }));
      try {
        await reporter.submit(inputs, `demo round ${round}`);
      } catch (err) {
        args.logger.warn({ tenant: tenant.slug, err: (err as Error).message }, "demo reporter round failed; will resume");
      }
    }
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      inFlight = tick().finally(schedule);
    }, args.intervalMs);
  };
  const submitPreviousMonth = async () => {
    const now = new Date(Number((await publicClient.getBlock({ blockTag: "latest" })).timestamp) * 1000);
    // The 10th..12th of last month (UTC) lies inside last month in every tenant time zone.
    const day = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 10) / 1000;
    for (const { tenant, reporter } of reporters) {
      const inputs: UsageInput[] = tenant.meters.flatMap((meter, i) =>
        [0, 1, 2].map((d) => ({
          line: i * 3 + d + 1,
          tenant: { name: tenant.slug },
          meter: { name: meter },
          periodStart: day + d * 86_400,
          periodEnd: day + (d + 1) * 86_400,
          quantity: BigInt((i === 0 ? 400_000 : 5_000) * (d + 1)),
          ref: keccak256(stringToHex(`demo:${tenant.slug}:${meter}:previous-month:${day}:${d}`)),
        })),
      );
      await reporter.submit(inputs, "demo: last month's usage");
    }
  };
  if (args.previousMonth) {
    try {
      await submitPreviousMonth();
    } catch (err) {
      args.logger.warn({ err: (err as Error).message }, "demo reporter could not submit last month's usage");
    }
  }
  // First round right away, so the first query after the ready line already has usage.
  inFlight = tick().finally(schedule);
  await inFlight;
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await inFlight.catch(() => undefined);
    },
  };
}
