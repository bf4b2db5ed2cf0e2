/**
 * Revert decoding for every client of UsageMeter (tasks through ethers, reporter through viem):
 * finds the revert data in whatever error shape the library produced and names the custom error
 * with its arguments, e.g. `AccessControlUnauthorizedAccount(account=0x…, neededRole=0x…)`.
 */
import { decodeErrorResult, type Hex } from "viem";
import { usageMeterAbi } from "./abi.generated";
import { bytes32ToText } from "./hex";

/** Revert data (0x + 4-byte selector …) found in the nested error shapes of ethers, viem and Hardhat. */
export function findRevertData(err: unknown, depth = 0): Hex | undefined {
  if (depth > 8 || err === null || typeof err !== "object") return undefined;
  const record = err as Record<string, unknown>;
  const data = record.data;
  if (typeof data === "string" && /^0x[0-9a-fA-F]{8}/.test(data)) return data as Hex;
  // viem's ContractFunctionRevertedError keeps the undecoded bytes in `raw`.
  if (typeof record.raw === "string" && /^0x[0-9a-fA-F]{8}/.test(record.raw)) return record.raw as Hex;
  for (const key of ["error", "info", "cause", "data", "revert"]) {
    const found = findRevertData(record[key], depth + 1);
    if (found) return found;
  }
  return undefined;
}

function formatArg(value: unknown, type: string): string {
  if (type === "bytes32" && typeof value === "string") {
    const text = bytes32ToText(value as Hex);
    return text === value ? value : JSON.stringify(text);
  }
  return String(value);
}

/** `ErrorName(arg=value, …)` when the error carries UsageMeter revert data, else undefined. */
export function decodeRevert(err: unknown): string | undefined {
  const data = findRevertData(err);
  if (!data) return undefined;
  try {
    const decoded = decodeErrorResult({ abi: usageMeterAbi, data });
    const inputs = (decoded.abiItem as { inputs?: readonly { name?: string; type: string }[] }).inputs ?? [];
    const args = (decoded.args ?? []) as readonly unknown[];
    return `${decoded.errorName}(${inputs.map((input, i) => `${input.name || `arg${i}`}=${formatArg(args[i], input.type)}`).join(", ")})`;
  } catch {
    return undefined;
  }
}

/** {@link decodeRevert}, else the first line of the error's message (viem's short form when present). */
export function describeRevert(err: unknown): string {
  const decoded = decodeRevert(err);
  if (decoded) return decoded;
  const message = err instanceof Error ? ((err as { shortMessage?: string }).shortMessage ?? err.message) : String(err);
  return message.split("\n")[0] ?? message;
}
