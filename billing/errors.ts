/** A billing invariant does not hold (missing plan version, vanished invoice); the pass is retried. */
export class BillingError extends Error {
  override name = "BillingError";
}
