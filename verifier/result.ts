/**
 * What a verification answers: one result per check, in a fixed order, and the verdict. A check
 * that could not run because an earlier one failed is "not-checked", never "pass": a verdict is
 * VERIFIED only when every check ran and passed (only `complete` may be skipped, when not asked for).
 */
export const CHECK_IDS = ["document", "parties", "anchored", "chain", "plan", "records", "billed-once", "adjustments", "amounts", "complete"] as const;
export type CheckId = (typeof CHECK_IDS)[number];

export type CheckStatus = "pass" | "fail" | "skipped" | "not-checked";

export interface CheckResult {
  id: CheckId;
  status: CheckStatus;
  /** One line: what was established, or why it failed. */
  summary: string;
  /** Each reason the check failed, one sentence each. */
  problems: string[];
  /** Facts worth knowing that do not fail the check (e.g. a record moved by a reorg). */
  notes: string[];
}

export interface VerificationReport {
  verified: boolean;
  invoice: {
    number: number | null;
    tenant: string;
    periodStart: string;
    periodEnd: string;
    currency: string;
    currencyExponent: number;
    totalMinor: string;
    /** SHA-256 of the invoice content as the verifier recomputed it. */
    contentHash: string | null;
  } | null;
  chain: { chainId: number; headBlock: string } | null;
  checks: CheckResult[];
}

export const pass = (id: CheckId, summary: string, notes: string[] = []): CheckResult => ({ id, status: "pass", summary, problems: [], notes });

export const fail = (id: CheckId, problems: string[], summary?: string, notes: string[] = []): CheckResult => ({
  id,
  status: "fail",
  summary: summary ?? (problems.length === 1 ? problems[0]! : `${problems.length} problems`),
  problems,
  notes,
});

/** Passes when there are no problems, else fails with them. */
export const outcome = (id: CheckId, problems: string[], summary: string, notes: string[] = []): CheckResult =>
  problems.length === 0 ? pass(id, summary, notes) : fail(id, problems, undefined, notes);

export const notChecked = (id: CheckId, reason: string): CheckResult => ({ id, status: "not-checked", summary: reason, problems: [], notes: [] });

export const skipped = (id: CheckId, reason: string): CheckResult => ({ id, status: "skipped", summary: reason, problems: [], notes: [] });

export function verdict(checks: readonly CheckResult[]): boolean {
  return checks.every((c) => c.status === "pass" || (c.status === "skipped" && c.id === "complete"));
}

/** Raised for what makes verification impossible (unreachable RPC, a reorg during the run); never for a failed check. */
export class VerifierError extends Error {
  override name = "VerifierError";
}
