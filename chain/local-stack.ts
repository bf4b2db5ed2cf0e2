/**
 * Where a running `npm start` stack is: `<METERLINE_HOME>/stack.json`, written by the stack once it
 * is ready. The token CLI, the `localhost` network of the Hardhat tasks and the reporter read it
 * here, so a tour on non-default ports reaches the stack it started and never another chain that
 * happens to listen on 8545. It lives in chain/ because it is, like the deployment record, how a
 * client finds the chain and UsageMeter (the stack itself is importable by nobody).
 *
 * Synchronous on purpose: hardhat.config.ts is evaluated synchronously.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { deploymentPath, deploymentsDir, findDeploymentFile, type Deployment } from "./deployment";

export const DEFAULT_STACK_HOME = ".meterline";
export const STACK_FILE = "stack.json";

/** The public part of stack.json (the stack adds its demo client secrets; readers here ignore them). */
export const stackLocationSchema = z.object({
  rpc: z.string().url(),
  chainId: z.number().int().positive(),
  /** Absolute path of the deployment record of the stack's UsageMeter. */
  deploymentFile: z.string().min(1),
  graphql: z.string().url().nullable(),
  issuer: z.string().url(),
  pid: z.number().int().positive(),
  startedAt: z.string().datetime(),
  /** Set on a clean stop; the file stays (it keeps the demo clients' secrets across restarts). */
  stoppedAt: z.string().datetime().optional(),
});
export type StackLocation = z.infer<typeof stackLocationSchema>;

export class StackLocationError extends Error {
  override name = "StackLocationError";
}

/** METERLINE_HOME (empty counts as unset), else `.meterline`, resolved against `cwd`. */
export function stackHome(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const home = env.METERLINE_HOME;
  return path.resolve(cwd, home && home !== "" ? home : DEFAULT_STACK_HOME);
}

export function stackFilePath(home: string): string {
  return path.join(home, STACK_FILE);
}

/** Whether a process with this id exists (EPERM: it exists but belongs to someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * After a crash or a reboot the recorded pid may belong to another program by now. Where /proc
 * tells (Linux), the process must be running stack/cli.ts; elsewhere a live pid has to do.
 */
function looksLikeStack(pid: number): boolean {
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return true;
  }
  return cmdline.split("\0").some((arg) => /stack[\\/]cli\.[cm]?[jt]s$/.test(arg));
}

export type StackLookup =
  | { kind: "running"; home: string; stack: StackLocation }
  /** No stack.json, a stopped stack, or a stack whose process is gone (not trusted). */
  | { kind: "absent"; home: string; why: string };

/**
 * The stack running from `home`, if any. A file whose pid is not alive, or that a clean stop
 * marked, is not trusted: its ports may belong to something else by now.
 */
export function findRunningStack(home: string): StackLookup {
  const file = stackFilePath(home);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { kind: "absent", home, why: `no ${file}` };
    throw new StackLocationError(`${file}: cannot be read (${(err as Error).message})`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new StackLocationError(`${file}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  const parsed = stackLocationSchema.safeParse(json);
  if (!parsed.success) {
    // Written by an older stack, or edited: say so rather than guess, and let a restart rewrite it.
    const issue = parsed.error.issues[0];
    return { kind: "absent", home, why: `${file} is not from a current stack (${issue?.path.join(".") || "(root)"}: ${issue?.message}); restart npm start` };
  }
  const stack = parsed.data;
  if (stack.stoppedAt) return { kind: "absent", home, why: `the stack in ${home} was stopped at ${stack.stoppedAt}` };
  if (!processAlive(stack.pid) || !looksLikeStack(stack.pid)) return { kind: "absent", home, why: `the stack in ${home} is not running (pid ${stack.pid} is gone or runs something else)` };
  return { kind: "running", home, stack };
}

/** How to point a client somewhere, for the one-line errors below. */
const HOW_TO_POINT = "start it with npm start, set METERLINE_HOME to the home of a running stack, or set METERLINE_RPC_URL";

export interface ResolvedRpc {
  url: string;
  /** The running stack the URL came from (or that it matches), when there is one. */
  stack?: StackLocation;
}

/**
 * The chain a client talks to: METERLINE_RPC_URL when set, else the stack running from
 * METERLINE_HOME (default .meterline). Throws one line saying how to point it otherwise; there
 * is deliberately no fallback to 127.0.0.1:8545, which may be a different chain.
 */
export function resolveRpc(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): ResolvedRpc {
  const explicit = env.METERLINE_RPC_URL;
  const lookup = findRunningStack(stackHome(env, cwd));
  if (explicit && explicit !== "") {
    return lookup.kind === "running" && sameUrl(lookup.stack.rpc, explicit) ? { url: explicit, stack: lookup.stack } : { url: explicit };
  }
  if (lookup.kind === "running") return { url: lookup.stack.rpc, stack: lookup.stack };
  throw new StackLocationError(`no running Meterline stack found (${lookup.why}): ${HOW_TO_POINT}`);
}

/** The running stack whose RPC is `rpcUrl`, if any (METERLINE_HOME, default .meterline). */
export function stackServing(rpcUrl: string, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): StackLocation | undefined {
  const lookup = findRunningStack(stackHome(env, cwd));
  return lookup.kind === "running" && sameUrl(lookup.stack.rpc, rpcUrl) ? lookup.stack : undefined;
}

function sameUrl(a: string, b: string): boolean {
  try {
    return new URL(a).href === new URL(b).href;
  } catch {
    return false;
  }
}

/**
 * The deployment record a client uses on `chainId` reached through `rpcUrl`: METERLINE_DEPLOYMENT
 * (a file) when set, else the running stack's record when `rpcUrl` is that stack's RPC, else
 * `<deployments dir>/<chainId>.json`. Returns the file and its record (undefined when absent).
 */
export function resolveDeploymentFile(
  chainId: number | bigint,
  rpcUrl: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): { file: string; source: "METERLINE_DEPLOYMENT" | "stack" | "deployments"; deployment: Deployment | undefined } {
  const explicit = env.METERLINE_DEPLOYMENT;
  if (explicit && explicit !== "") {
    const file = path.resolve(cwd, explicit);
    return { file, source: "METERLINE_DEPLOYMENT", deployment: findDeploymentFile(file, chainId) };
  }
  const stack = rpcUrl ? stackServing(rpcUrl, env, cwd) : undefined;
  if (stack && BigInt(stack.chainId) === BigInt(chainId)) {
    return { file: stack.deploymentFile, source: "stack", deployment: findDeploymentFile(stack.deploymentFile, chainId) };
  }
  const file = deploymentPath(chainId, deploymentsDir(env));
  return { file, source: "deployments", deployment: findDeploymentFile(file, chainId) };
}
