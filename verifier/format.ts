/** How reports write amounts, instants and keys: plain, exact, unambiguous. */
import type { Hex } from "viem";

/** An amount in minor units as a decimal in major units: ("-1234", 2) -> "-12.34". */
export function formatMinor(minor: string | bigint, exponent: number): string {
  const value = BigInt(minor);
  const neg = value < 0n;
  const digits = (neg ? -value : value).toString().padStart(exponent + 1, "0");
  const whole = digits.slice(0, digits.length - exponent);
  const frac = exponent > 0 ? `.${digits.slice(digits.length - exponent)}` : "";
  return `${neg ? "-" : ""}${whole}${frac}`;
}

export const isoOf = (unixSeconds: number | bigint): string => new Date(Number(unixSeconds) * 1000).toISOString();

/** 0x1234…abcd: enough to recognise a hash in a line, the full value is in --json. */
export const short = (hex: Hex | string): string => (hex.length > 14 ? `${hex.slice(0, 8)}…${hex.slice(-4)}` : hex);

export const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
