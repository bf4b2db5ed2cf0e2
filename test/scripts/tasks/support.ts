/**
 * Helpers for running the meter:* tasks in-process against the Hardhat network: a fresh temp
 * deployments dir and exit code per test, output capture, and signers chosen through
 * METERLINE_PRIVATE_KEY exactly as an operator would.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import hre from "hardhat";
import { Wallet } from "ethers";
import type { UsageMeter } from "../../../scripts/typechain-types";
import { readDeployment, type Deployment } from "../../../chain/deployment";

export interface Captured<T> {
  result: T;
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Runs a task, capturing what it prints and the exit code it sets (then clears it). */
export async function runTask<T = unknown>(name: string, args: Record<string, unknown> = {}): Promise<Captured<T>> {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...parts: unknown[]) => void out.push(parts.map(String).join(" "));
  console.error = (...parts: unknown[]) => void err.push(parts.map(String).join(" "));
  process.exitCode = 0;
  try {
    const result = (await hre.run(name, args)) as T;
    return { result, stdout: out.join("\n"), stderr: err.join("\n"), exitCode: Number(process.exitCode ?? 0) };
  } finally {
    console.log = log;
    console.error = error;
    process.exitCode = 0;
  }
}

/** mocha hooks: each test gets its own deployments dir and the default signer; prior env is restored. */
export function useTaskEnvironment(): void {
  let dir = "";
  let saved: { exitCode: typeof process.exitCode; dir?: string; key?: string };
  const restore = (name: string, value: string | undefined): void => {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  };
  beforeEach(() => {
    saved = {
      exitCode: process.exitCode,
      dir: process.env.METERLINE_DEPLOYMENTS_DIR,
      key: process.env.METERLINE_PRIVATE_KEY,
    };
    dir = mkdtempSync(path.join(tmpdir(), "meterline-deployments-"));
    process.env.METERLINE_DEPLOYMENTS_DIR = dir;
    delete process.env.METERLINE_PRIVATE_KEY;
  });
  afterEach(() => {
    restore("METERLINE_DEPLOYMENTS_DIR", saved.dir);
    restore("METERLINE_PRIVATE_KEY", saved.key);
    rmSync(dir, { recursive: true, force: true });
    process.exitCode = saved.exitCode;
  });
}

export async function chainId(): Promise<number> {
  return Number((await hre.ethers.provider.getNetwork()).chainId);
}

/** Deploys through meter:deploy and returns the record and a contract bound to the node's first account. */
export async function deployMeter(args: Record<string, unknown> = {}): Promise<{ deployment: Deployment; meter: UsageMeter }> {
  const run = await runTask("meter:deploy", { adminDelay: "0", ...args });
  if (run.exitCode !== 0) throw new Error(`meter:deploy failed: ${run.stderr}`);
  const deployment = readDeployment(await chainId());
  const [admin] = await hre.ethers.getSigners();
  const meter = (await hre.ethers.getContractAt("UsageMeter", deployment.address, admin)) as unknown as UsageMeter;
  return { deployment, meter };
}

/** A fresh funded key; returned wallet is connected to the Hardhat provider. */
export async function fundedWallet(): Promise<Wallet> {
  const wallet = new Wallet(Wallet.createRandom().privateKey, hre.ethers.provider);
  await hre.network.provider.send("hardhat_setBalance", [wallet.address, "0x56BC75E2D63100000"]);
  return wallet;
}

/** Makes the tasks sign with `wallet` (as METERLINE_PRIVATE_KEY would on any network). */
export function signAs(wallet: Wallet | undefined): void {
  if (wallet) process.env.METERLINE_PRIVATE_KEY = wallet.privateKey;
  else delete process.env.METERLINE_PRIVATE_KEY;
}

export async function mineBlocks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await hre.network.provider.send("evm_mine", []);
}

export async function blockNumber(): Promise<number> {
  return hre.ethers.provider.getBlockNumber();
}
