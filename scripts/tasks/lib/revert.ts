import type { Interface } from "ethers";
import { displayBytes32 } from "./params";

/** Finds revert data (0x + selector…) in the error shapes ethers and Hardhat produce. */
function findRevertData(err: unknown, depth = 0): string | undefined {
  if (depth > 6 || err === null || typeof err !== "object") return undefined;
  const record = err as Record<string, unknown>;
  const data = record.data;
  if (typeof data === "string" && /^0x[0-9a-fA-F]{8}/.test(data)) return data;
  for (const key of ["error", "info", "cause", "data", "revert"]) {
    const found = findRevertData(record[key], depth + 1);
    if (found) return found;
  }
  return undefined;
}

function formatValue(value: unknown, type: string): string {
  if (type === "bytes32" && typeof value === "string") {
    const text = displayBytes32(value);
    return text === value ? value : JSON.stringify(text);
  }
  return String(value);
}

/** `ErrorName(arg=value, …)` for a revert of the contract behind `iface`, else the first line of the message. */
export function describeRevert(err: unknown, iface: Interface): string {
  const data = findRevertData(err);
  if (data) {
    try {
      const parsed = iface.parseError(data);
      if (parsed) {
        const args = parsed.fragment.inputs.map(
          (input, i) => `${input.name || `arg${i}`}=${formatValue(parsed.args[i], input.type)}`,
        );
        return `${parsed.name}(${args.join(", ")})`;
      }
    } catch {
      // unknown selector: fall back to the message
    }
  }
  const message = err instanceof Error ? ((err as { shortMessage?: string }).shortMessage ?? err.message) : String(err);
  return message.split("\n")[0] ?? message;
}
