import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { BillingRunResult } from "./run";
import type { AnchorFailureReason, AnchoringResult } from "./anchoring/run";

export interface BillingMetrics {
  registry: Registry;
  observe(result: BillingRunResult, seconds: number): void;
  failed(): void;
  /** After an anchoring pass. */
  observeAnchoring(result: AnchoringResult): void;
  /** An anchoring pass that could not run (e.g. RPC down). */
  anchoringFailed(reason: AnchorFailureReason): void;
  leaseHeld: Gauge;
}

/** Billing's metrics; every label comes from a fixed set (no tenant ids, no free text). */
export function createBillingMetrics(registry: Registry = new Registry()): BillingMetrics {
  const registers = [registry];
  const passes = new Counter({ name: "meterline_billing_passes_total", help: "Billing passes by result", labelNames: ["result"], registers });
  const duration = new Histogram({ name: "meterline_billing_pass_duration_seconds", help: "Duration of a billing pass over every tenant", buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120], registers });
  const finalized = new Counter({ name: "meterline_billing_invoices_finalized_total", help: "Invoices finalized", registers });
  const reorgs = new Counter({ name: "meterline_billing_reorg_credits_total", help: "Credit notes issued because invoiced usage left the canonical chain (alert on any)", registers });
  const alerts = new Counter({ name: "meterline_billing_quota_alerts_total", help: "Quota threshold crossings recorded", registers });
  const lastPass = new Gauge({ name: "meterline_billing_last_pass_timestamp_seconds", help: "End of the last successful billing pass", registers });
  const leaseHeld = new Gauge({ name: "meterline_billing_lease_held", help: "1 when this process is the active billing worker", registers });
  const anchorPending = new Gauge({ name: "meterline_billing_anchor_jobs_pending", help: "Plan versions and documents not yet anchored on InvoiceAnchor (pending or sent)", registers });
  const anchored = new Counter({ name: "meterline_billing_anchored_total", help: "Anchors that landed, by kind", labelNames: ["kind"], registers });
  const anchorFailures = new Counter({
    name: "meterline_billing_anchor_failures_total",
    help: "Anchor jobs that did not progress, by reason (paused, unauthorized, rejected, reverted, rpc)",
    labelNames: ["reason"],
    registers,
  });
  const unanchorable = new Counter({ name: "meterline_billing_anchor_unanchorable_total", help: "Plan versions that can no longer be anchored before they take effect (alert on any)", registers });
  const anchorReorgs = new Counter({ name: "meterline_billing_anchor_reorgs_total", help: "Anchors whose block left the chain (their transaction was sent again)", registers });
  return {
    registry,
    leaseHeld,
    observe(r, seconds) {
      passes.inc({ result: "ok" });
      duration.observe(seconds);
      finalized.inc(r.finalized.length);
      reorgs.inc(r.reorgCredits.length);
      alerts.inc(r.alerts.length);
      lastPass.set(Date.now() / 1000);
    },
    failed() {
      passes.inc({ result: "error" });
    },
    observeAnchoring(r) {
      anchorPending.set(r.pending);
      for (const a of r.anchored) anchored.inc({ kind: a.kind });
      for (const f of r.failures) anchorFailures.inc({ reason: f.reason });
      unanchorable.inc(r.unanchorable.length);
      anchorReorgs.inc(r.reorged);
    },
    anchoringFailed(reason) {
      anchorFailures.inc({ reason });
    },
  };
}
