/** The report as text: a heading, one line per check (with its problems under a failed one), the verdict. */
import { formatMinor } from "./format";
import type { CheckResult, VerificationReport } from "./result";

const TAG: Record<CheckResult["status"], string> = { pass: "PASS", fail: "FAIL", skipped: "SKIP", "not-checked": "----" };

export function renderReport(report: VerificationReport, options: { notes?: boolean } = {}): string {
  const out: string[] = [];
  const inv = report.invoice;
  if (inv) {
    out.push(
      `Invoice ${inv.number ?? "(draft)"} of ${inv.tenant}, ${inv.periodStart} to ${inv.periodEnd}: ${formatMinor(inv.totalMinor, inv.currencyExponent)} ${inv.currency}` +
        (report.chain ? ` (chain ${report.chain.chainId}, read at block ${report.chain.headBlock})` : ""),
    );
  }
  const width = Math.max(...report.checks.map((c) => c.id.length));
  for (const c of report.checks) {
    out.push(`  ${TAG[c.status]}  ${c.id.padEnd(width)}  ${c.summary}`);
    const indent = " ".repeat(width + 10);
    if (c.status === "fail" && !(c.problems.length === 1 && c.problems[0] === c.summary)) for (const p of c.problems) out.push(`${indent}- ${p}`);
    if (options.notes) for (const n of c.notes) out.push(`${indent}note: ${n}`);
  }
  const failed = report.checks.filter((c) => c.status === "fail" || c.status === "not-checked").map((c) => c.id);
  out.push(report.verified ? "VERIFIED" : `NOT VERIFIED (${failed.join(", ")})`);
  return out.join("\n");
}
