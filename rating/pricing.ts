import { z } from "zod";
import { DecimalError, attoToMinor, parseCount, parsePrice } from "./decimal";

/**
 * Pricing of one meter, as carried in an invoice's plan snapshot. All numbers are strings so the
 * snapshot survives JSON exactly: prices are decimal strings in major units, quantities integers.
 *
 * Rules (docs/billing.md):
 *  - billable = max(0, quantity - includedUnits);
 *  - per_unit:  billable * unitPrice;
 *  - graduated: each tier prices the billable units that fall into it; a tier's flatFee is charged
 *               when at least one unit falls into it;
 *  - volume:    all billable units at the price of the tier billable falls into (+ its flatFee);
 *  - package:   ceil(billable / packageSize) * unitPrice;
 *  - zero billable units cost nothing (no flat fees).
 *  The exact amount is rounded once, half-even, to the currency's minor unit.
 */
export const tierSchema = z.object({
  upTo: z.string().nullable(),
  unitPrice: z.string(),
  flatFee: z.string().default("0"),
});

export const priceSpecSchema = z.object({
  meterId: z.number().int().positive(),
  model: z.enum(["per_unit", "graduated", "volume", "package"]),
  unitPrice: z.string().nullable().default(null),
  includedUnits: z.string().default("0"),
  packageSize: z.string().nullable().default(null),
  tiers: z.array(tierSchema).default([]),
});

export type Tier = z.infer<typeof tierSchema>;
export type PriceSpec = z.infer<typeof priceSpecSchema>;

export class PricingError extends Error {
  override name = "PricingError";
}

interface ParsedTier {
  upTo: bigint | null;
  unitPrice: bigint;
  flatFee: bigint;
}

function parseTiers(spec: PriceSpec): ParsedTier[] {
  if (spec.tiers.length === 0) throw new PricingError(`meter ${spec.meterId}: ${spec.model} price needs at least one tier`);
  let previous = 0n;
  return spec.tiers.map((t, i) => {
    const upTo = t.upTo === null ? null : parseCount(t.upTo, `meter ${spec.meterId} tier ${i} upTo`);
    if (upTo === null && i !== spec.tiers.length - 1) {
      throw new PricingError(`meter ${spec.meterId}: only the last tier may be unbounded`);
    }
    if (upTo !== null) {
      if (upTo <= previous) throw new PricingError(`meter ${spec.meterId}: tier ${i} upTo must exceed the previous tier's`);
      previous = upTo;
    }
    return {
      upTo,
      unitPrice: parsePrice(t.unitPrice, `meter ${spec.meterId} tier ${i} unitPrice`),
      flatFee: parsePrice(t.flatFee, `meter ${spec.meterId} tier ${i} flatFee`),
    };
  });
}

/** Checks a price spec completely (every string parses, tiers are ordered); throws PricingError/DecimalError. */
export function validatePriceSpec(spec: PriceSpec): void {
  exactAmount(spec, 0n);
  parseCount(spec.includedUnits, `meter ${spec.meterId} includedUnits`);
  if (spec.model === "graduated" || spec.model === "volume") parseTiers(spec);
  if (spec.model === "per_unit" || spec.model === "package") {
    if (spec.unitPrice === null) throw new PricingError(`meter ${spec.meterId}: ${spec.model} price needs unitPrice`);
    parsePrice(spec.unitPrice, `meter ${spec.meterId} unitPrice`);
  }
  if (spec.model === "package") {
    if (spec.packageSize === null || parseCount(spec.packageSize, `meter ${spec.meterId} packageSize`) === 0n) {
      throw new PricingError(`meter ${spec.meterId}: package price needs a positive packageSize`);
    }
  }
}

/** The exact (unrounded) amount in 10^-18 major units for an aggregated quantity. */
export function exactAmount(spec: PriceSpec, quantity: bigint): bigint {
  if (quantity < 0n) throw new PricingError(`meter ${spec.meterId}: negative quantity ${quantity}`);
  const included = parseCount(spec.includedUnits, `meter ${spec.meterId} includedUnits`);
  const billable = quantity > included ? quantity - included : 0n;
  if (billable === 0n) return 0n;
  switch (spec.model) {
    case "per_unit":
      return billable * parsePrice(requirePrice(spec), `meter ${spec.meterId} unitPrice`);
    case "package": {
      const size = spec.packageSize === null ? 0n : parseCount(spec.packageSize, `meter ${spec.meterId} packageSize`);
      if (size === 0n) throw new PricingError(`meter ${spec.meterId}: package price needs a positive packageSize`);
      const packages = (billable + size - 1n) / size;
      return packages * parsePrice(requirePrice(spec), `meter ${spec.meterId} unitPrice`);
    }
    case "graduated": {
      let total = 0n;
      let lower = 0n;
      for (const tier of parseTiers(spec)) {
        const upper = tier.upTo === null || tier.upTo > billable ? billable : tier.upTo;
        if (upper > lower) total += (upper - lower) * tier.unitPrice + tier.flatFee;
        if (tier.upTo === null || tier.upTo >= billable) return total;
        lower = tier.upTo;
      }
      throw new PricingError(`meter ${spec.meterId}: quantity ${billable} exceeds the last tier (add an unbounded tier)`);
    }
    case "volume": {
      for (const tier of parseTiers(spec)) {
        if (tier.upTo === null || billable <= tier.upTo) return billable * tier.unitPrice + tier.flatFee;
      }
      throw new PricingError(`meter ${spec.meterId}: quantity ${billable} exceeds the last tier (add an unbounded tier)`);
    }
  }
}

function requirePrice(spec: PriceSpec): string {
  if (spec.unitPrice === null) throw new PricingError(`meter ${spec.meterId}: ${spec.model} price needs unitPrice`);
  return spec.unitPrice;
}

/** A usage line's amount in minor units: exact amount rounded once, half-even. */
export function lineAmountMinor(spec: PriceSpec, quantity: bigint, currencyExponent: number): bigint {
  return attoToMinor(exactAmount(spec, quantity), currencyExponent);
}

/**
 * An adjustment line's amount: price(total) - price(base) computed exactly, rounded once. For
 * volume pricing this can be negative (more units may reach a cheaper tier).
 */
export function adjustmentAmountMinor(spec: PriceSpec, base: bigint, total: bigint, currencyExponent: number): bigint {
  return attoToMinor(exactAmount(spec, total) - exactAmount(spec, base), currencyExponent);
}

/** Minimum line: tops usage lines up to the plan minimum (0 when usage already reaches it). */
export function minimumTopUpMinor(minimumMinor: bigint, usageMinor: bigint): bigint {
  return usageMinor >= minimumMinor ? 0n : minimumMinor - usageMinor;
}

export { DecimalError };
