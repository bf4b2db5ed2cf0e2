/**
 * The command-line shell around the verifier, and the only part that uses Node: arguments, files,
 * the HTTP client, output and exit status. The checks are in the browser-safe core (index.ts).
 * The hardhat task meter:verify-invoice runs the same `runVerifier` with the same options.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { BaseError, createPublicClient, http, type Address, type Hex, type PublicClient } from "viem";
import { readNameKey } from "../chain/name-key";
import { NamingError } from "../chain/naming";
import { keyedNaming, plainNaming } from "./naming";
import { renderReport } from "./render";
import { VerifierError } from "./result";
import type { TrustAnchors } from "./trust";
import { verifyInvoice } from "./verify";

export interface CliOptions {
  invoice: string;
  rpc: string;
  meter: string;
  anchor: string;
  tenant: string;
  /** The key, or env:<VARIABLE>, or file:<path> (keeps the key out of process listings). */
  nameKey?: string;
  reporters?: string;
  /** A plan snapshot file, or its 0x hash. */
  plan?: string;
  fromBlock?: string;
  maxLogRange?: string;
  complete?: boolean;
  json?: boolean;
}

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const EXIT = { verified: 0, notVerified: 1, error: 2 } as const;

export const USAGE = `Usage: meterline-verify [options] <invoice.json>

Verifies a Meterline invoice against the chain alone. The contracts and your tenant come from
your own configuration, never from the file: the file is only what is being checked.

Required:
  --rpc <url>            JSON-RPC endpoint of the chain
  --meter <address>      the UsageMeter contract (from your configuration)
  --anchor <address>     the InvoiceAnchor contract (from your configuration)
  --tenant <name>        your tenant name, as registered on chain

Options:
  --invoice <file>       the invoice export (instead of the positional argument)
  --name-key <key>       the name key your platform gave you: your tenant is registered on chain as
                         HMAC-SHA256(key, name), never in plain text. The key as 0x-hex or text, or
                         better env:<VARIABLE> or file:<path> (keeps it out of shell history).
                         Without it the name is looked up in plain text (older deployments).
  --reporters <a,b,...>  accept records only from these reporter addresses
  --plan <file|0xhash>   your copy of the agreed plan snapshot, or its hash
  --complete             also list the period's records that no document bills
  --from-block <n>       start log scans here (default 0); at or before your tenant's registration
  --max-log-range <n>    at most this many blocks per eth_getLogs request
  --json                 print the full report as JSON
  -h, --help             print this help

Exit status: 0 VERIFIED, 1 NOT VERIFIED, 2 could not verify (arguments, files, RPC).`;

async function readJson(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new VerifierError(`cannot read ${what} ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new VerifierError(`${what} ${file} is not JSON: ${(err as Error).message}`);
  }
}

async function nameKey(spec: string): Promise<Uint8Array> {
  try {
    return await readNameKey(spec, { allowLiteral: true });
  } catch (err) {
    if (err instanceof NamingError) throw new VerifierError(err.message, { cause: err });
    throw err;
  }
}

function blockNumber(value: string | undefined, flag: string): bigint | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new VerifierError(`${flag} must be a block number`);
  return BigInt(value);
}

export async function trustAnchorsOf(o: CliOptions): Promise<TrustAnchors> {
  for (const [flag, v] of [["--rpc", o.rpc], ["--meter", o.meter], ["--anchor", o.anchor], ["--tenant", o.tenant], ["the invoice file", o.invoice]] as const) {
    if (!v) throw new VerifierError(`${flag} is required (see --help)`);
  }
  let plan: TrustAnchors["plan"];
  if (o.plan !== undefined) plan = /^0x[0-9a-fA-F]{64}$/.test(o.plan) ? { hash: o.plan as Hex } : { snapshot: await readJson(o.plan, "plan file") };
  return {
    meter: o.meter as Address,
    anchor: o.anchor as Address,
    tenant: o.tenant,
    naming: o.nameKey === undefined ? plainNaming : keyedNaming(await nameKey(o.nameKey)),
    reporters: o.reporters === undefined ? undefined : (o.reporters.split(",").map((r) => r.trim()).filter((r) => r !== "") as Address[]),
    plan,
  };
}

/** Runs one verification and prints it; resolves to the exit status. */
export async function runVerifier(o: CliOptions, io: Io, client?: PublicClient): Promise<number> {
  try {
    const trust = await trustAnchorsOf(o);
    const file = await readJson(o.invoice, "invoice file");
    const rpc = client ?? (createPublicClient({ transport: http(o.rpc, { retryCount: 2 }) }) as PublicClient);
    const report = await verifyInvoice(rpc, file, trust, {
      complete: o.complete ?? false,
      fromBlock: blockNumber(o.fromBlock, "--from-block"),
      maxLogRange: blockNumber(o.maxLogRange, "--max-log-range"),
    });
    io.out(o.json ? JSON.stringify(report, null, 2) : renderReport(report, { notes: true }));
    return report.verified ? EXIT.verified : EXIT.notVerified;
  } catch (err) {
    if (err instanceof VerifierError) io.err(`error: ${err.message}`);
    else if (err instanceof BaseError) io.err(`error: the RPC request failed: ${err.shortMessage}`);
    else throw err;
    return EXIT.error;
  }
}

export async function main(argv: string[], io: Io): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        invoice: { type: "string" },
        rpc: { type: "string" },
        meter: { type: "string" },
        anchor: { type: "string" },
        tenant: { type: "string" },
        "name-key": { type: "string" },
        reporters: { type: "string" },
        plan: { type: "string" },
        "from-block": { type: "string" },
        "max-log-range": { type: "string" },
        complete: { type: "boolean" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    io.err(`error: ${(err as Error).message}\n\n${USAGE}`);
    return EXIT.error;
  }
  const v = parsed.values;
  if (v.help) {
    io.out(USAGE);
    return EXIT.verified;
  }
  if (parsed.positionals.length > 1 || (parsed.positionals.length === 1 && v.invoice !== undefined)) {
    io.err("error: give one invoice file");
    return EXIT.error;
  }
  return runVerifier(
    {
      invoice: v.invoice ?? parsed.positionals[0] ?? "",
      rpc: v.rpc ?? "",
      meter: v.meter ?? "",
      anchor: v.anchor ?? "",
      tenant: v.tenant ?? "",
      nameKey: v["name-key"],
      reporters: v.reporters,
      plan: v.plan,
      fromBlock: v["from-block"],
      maxLogRange: v["max-log-range"],
      complete: v.complete,
      json: v.json,
    },
    io,
  );
}
