/**
 * Exact decimal arithmetic for money. Prices are decimal strings in major currency units, parsed
 * into integers at a fixed scale of 10^-18 ("atto" units) so that every price PostgreSQL can store
 * in numeric(38,18) is represented exactly and sums never lose precision. Nothing here touches
 * floating point.
 */

export const PRICE_SCALE = 18;
export const PRICE_ONE = 10n ** BigInt(PRICE_SCALE);

export class DecimalError extends Error {
  override name = "DecimalError";
}

const DECIMAL_RE = /^(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;

/**
 * Parses a non-negative decimal string ("0.0015", "12", "3.50") into units of 10^-18.
 * Rejects signs, exponents, whitespace, empty parts and more than 18 significant fraction digits,
 * because each of those would either be ambiguous or could not be stored exactly.
 */
export function parsePrice(text: string, what = "price"): bigint {
  if (typeof text !== "string") throw new DecimalError(`${what}: expected a decimal string, got ${typeof text}`);
  const m = DECIMAL_RE.exec(text);
  if (!m) throw new DecimalError(`${what}: "${text}" is not a non-negative decimal (digits, optional "." and digits)`);
  const whole = m[1] as string;
  let frac = m[2] ?? "";
  // Trailing zeros carry no value (PostgreSQL pads numeric(38,18) with them).
  frac = frac.replace(/0+$/, "");
  if (frac.length > PRICE_SCALE) {
    throw new DecimalError(`${what}: "${text}" has more than ${PRICE_SCALE} fraction digits`);
  }
  if (whole.length > 20) throw new DecimalError(`${what}: "${text}" is too large`);
  return BigInt(whole) * PRICE_ONE + BigInt(frac.padEnd(PRICE_SCALE, "0") || "0");
}

/** Formats atto units back to the shortest exact decimal string. */
export function formatPrice(atto: bigint): string {
  const neg = atto < 0n;
  const abs = neg ? -atto : atto;
  const whole = abs / PRICE_ONE;
  const frac = (abs % PRICE_ONE).toString().padStart(PRICE_SCALE, "0").replace(/0+$/, "");
  return `${neg ? "-" : ""}${whole}${frac ? `.${frac}` : ""}`;
}

/** Parses a non-negative integer string (quantities, minor-unit amounts). */
export function parseCount(text: string, what = "quantity"): bigint {
  if (typeof text !== "string" || !/^(0|[1-9][0-9]*)$/.test(text)) {
    throw new DecimalError(`${what}: "${String(text)}" is not a non-negative integer`);
  }
  return BigInt(text);
}

/**
 * n / d rounded to the nearest integer, ties to even ("banker's rounding"). Ties to even has no
 * upward bias over many lines, which matters when a provider bills millions of small lines.
 */
export function divRoundHalfEven(n: bigint, d: bigint): bigint {
  if (d <= 0n) throw new DecimalError("divisor must be positive");
  const neg = n < 0n;
  const a = neg ? -n : n;
  let q = a / d;
  const r = a % d;
  const twice = 2n * r;
  if (twice > d || (twice === d && q % 2n === 1n)) q += 1n;
  return neg ? -q : q;
}

/** Converts an exact amount in atto major units to integer minor units (half-even). */
export function attoToMinor(atto: bigint, currencyExponent: number): bigint {
  if (!Number.isInteger(currencyExponent) || currencyExponent < 0 || currencyExponent > PRICE_SCALE) {
    throw new DecimalError(`currency exponent ${currencyExponent} out of range`);
  }
  return divRoundHalfEven(atto, 10n ** BigInt(PRICE_SCALE - currencyExponent));
}
