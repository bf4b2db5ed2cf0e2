/**
 * Billing's errors. Input errors name the field and are safe to show the caller (the API maps them
 * to BAD_USER_INPUT); not-found and conflict errors likewise; anything else is an invariant that
 * does not hold (the pass is retried, the request answers "Unexpected error").
 */
export class BillingError extends Error {
  override name = "BillingError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The caller's input is invalid; nothing was written. `field` is the input path, e.g. `prices.0.tiers.1.upTo`. */
export class BillingInputError extends BillingError {
  override name = "BillingInputError";
  constructor(
    readonly field: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${field}: ${detail}`, options);
  }
}

/** What the caller named does not exist for this tenant. */
export class BillingNotFoundError extends BillingError {
  override name = "BillingNotFoundError";
}

/** The request contradicts the billing state (e.g. crediting a draft, withdrawing a version in force). */
export class BillingConflictError extends BillingError {
  override name = "BillingConflictError";
}
