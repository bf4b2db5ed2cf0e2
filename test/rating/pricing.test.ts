import { expect } from "chai";
import fc from "fast-check";
import { DateTime } from "luxon";
import { DecimalError, attoToMinor, divRoundHalfEven, formatPrice, parsePrice, PRICE_ONE } from "../../rating/decimal";
import {
  adjustmentAmountMinor,
  exactAmount,
  lineAmountMinor,
  minimumTopUpMinor,
  PricingError,
  type PriceSpec,
  type Tier,
} from "../../rating/pricing";
import { buildLines } from "../../rating/lines";
import { contains, nextPeriod, periodContaining } from "../../rating/periods";

const priceArb = fc
  .tuple(fc.bigInt({ min: 0n, max: 10_000n }), fc.bigInt({ min: 0n, max: 10n ** 18n - 1n }))
  .map(([w, f]) => `${w}.${f.toString().padStart(18, "0")}`);
const qtyArb = fc.bigInt({ min: 0n, max: 10n ** 12n });

/** Tiers with strictly increasing bounds and a final unbounded tier. */
const tiersArb: fc.Arbitrary<Tier[]> = fc
  .array(fc.tuple(fc.bigInt({ min: 1n, max: 10_000n }), priceArb, priceArb), { minLength: 0, maxLength: 4 })
  .chain((bounded) =>
    priceArb.map((lastPrice) => {
      let upTo = 0n;
      const tiers: Tier[] = bounded.map(([step, p, fee]) => {
        upTo += step;
        return { upTo: upTo.toString(), unitPrice: p, flatFee: fee };
      });
      tiers.push({ upTo: null, unitPrice: lastPrice, flatFee: "0" });
      return tiers;
    }),
  );

function spec(partial: Partial<PriceSpec> & Pick<PriceSpec, "model">): PriceSpec {
  return { meterId: 1, unitPrice: null, includedUnits: "0", packageSize: null, tiers: [], ...partial };
}

describe("billing: decimal money", function () {
  it("parses decimal strings exactly and rejects bad ones with clear errors", function () {
    expect(parsePrice("0.0015")).to.equal(15n * 10n ** 14n);
    expect(parsePrice("12")).to.equal(12n * PRICE_ONE);
    expect(parsePrice("1.500000000000000000")).to.equal(15n * 10n ** 17n);
    for (const bad of ["", "-1", "+1", "1e3", " 1", "1.", ".5", "01", "1,5", "0.0000000000000000001", "NaN"]) {
      expect(() => parsePrice(bad, "unitPrice"), bad).to.throw(DecimalError, /unitPrice/);
    }
  });

  it("round-trips any 18-digit decimal", function () {
    fc.assert(fc.property(priceArb, (p) => parsePrice(formatPrice(parsePrice(p))) === parsePrice(p)));
  });

  it("rounds half to even, symmetric for negatives", function () {
    expect(divRoundHalfEven(5n, 2n)).to.equal(2n);
    expect(divRoundHalfEven(7n, 2n)).to.equal(4n);
    expect(divRoundHalfEven(-5n, 2n)).to.equal(-2n);
    expect(divRoundHalfEven(26n, 10n)).to.equal(3n);
    expect(attoToMinor(parsePrice("0.005"), 2)).to.equal(0n);
    expect(attoToMinor(parsePrice("0.015"), 2)).to.equal(2n);
    expect(attoToMinor(parsePrice("1.2345"), 0)).to.equal(1n);
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), fc.bigInt({ min: 1n, max: 10n ** 20n }), (n, d) => {
        const q = divRoundHalfEven(n, d);
        // |n/d - q| <= 1/2  <=>  |n - q d| * 2 <= d
        const err = n - q * d;
        return (err < 0n ? -err : err) * 2n <= d;
      }),
    );
  });
});

describe("billing: pricing models (property-based)", function () {
  it("graduated equals the per-tier sum; volume prices every unit at one tier", function () {
    const s = spec({
      model: "graduated",
      tiers: [
        { upTo: "100", unitPrice: "0", flatFee: "0" },
        { upTo: "1000", unitPrice: "0.01", flatFee: "0" },
        { upTo: null, unitPrice: "0.005", flatFee: "0" },
      ],
    });
    expect(lineAmountMinor(s, 50n, 2)).to.equal(0n);
    expect(lineAmountMinor(s, 1500n, 2)).to.equal(900n + 250n); // 900*0.01 + 500*0.005 = 11.50
    const v = { ...s, model: "volume" as const };
    expect(lineAmountMinor(v, 1500n, 2)).to.equal(750n); // 1500*0.005
    expect(lineAmountMinor(v, 500n, 2)).to.equal(500n);
  });

  it("graduated is monotone in quantity", function () {
    fc.assert(
      fc.property(tiersArb, qtyArb, qtyArb, (tiers, a, b) => {
        const s = spec({ model: "graduated", tiers });
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        return exactAmount(s, lo) <= exactAmount(s, hi);
      }),
    );
  });

  it("graduated and volume agree when there is a single tier", function () {
    fc.assert(
      fc.property(priceArb, qtyArb, (p, q) => {
        const tiers = [{ upTo: null, unitPrice: p, flatFee: "0" }];
        return exactAmount(spec({ model: "graduated", tiers }), q) === exactAmount(spec({ model: "volume", tiers }), q);
      }),
    );
  });

  it("included units are free: price(q, included i) = price(max(0, q-i), included 0)", function () {
    fc.assert(
      fc.property(tiersArb, qtyArb, fc.bigInt({ min: 0n, max: 10n ** 6n }), fc.constantFrom("graduated", "volume") as fc.Arbitrary<"graduated" | "volume">, (tiers, q, inc, model) => {
        const withIncluded = spec({ model, tiers, includedUnits: inc.toString() });
        const without = spec({ model, tiers });
        return exactAmount(withIncluded, q) === exactAmount(without, q > inc ? q - inc : 0n);
      }),
    );
  });

  it("package pricing charges whole packages", function () {
    fc.assert(
      fc.property(priceArb, qtyArb, fc.bigInt({ min: 1n, max: 10_000n }), (p, q, size) => {
        const s = spec({ model: "package", unitPrice: p, packageSize: size.toString() });
        const packages = (q + size - 1n) / size;
        return exactAmount(s, q) === packages * parsePrice(p);
      }),
    );
  });

  it("per-line rounding: amount is the half-even rounding of the exact amount, within half a minor unit", function () {
    fc.assert(
      fc.property(tiersArb, qtyArb, fc.integer({ min: 0, max: 6 }), (tiers, q, exp) => {
        const s = spec({ model: "graduated", tiers });
        const minor = lineAmountMinor(s, q, exp);
        const exact = exactAmount(s, q);
        const unit = 10n ** BigInt(18 - exp);
        const err = exact - minor * unit;
        return (err < 0n ? -err : err) * 2n <= unit;
      }),
    );
  });

  it("adjustment = price(base + late) - price(base), rounded once", function () {
    fc.assert(
      fc.property(tiersArb, qtyArb, qtyArb, (tiers, base, late) => {
        const s = spec({ model: "graduated", tiers });
        const adj = adjustmentAmountMinor(s, base, base + late, 2);
        return adj >= 0n && adj === attoToMinor(exactAmount(s, base + late) - exactAmount(s, base), 2);
      }),
    );
  });

  it("rejects malformed specs", function () {
    expect(() => exactAmount(spec({ model: "graduated", tiers: [{ upTo: "10", unitPrice: "1", flatFee: "0" }] }), 11n)).to.throw(PricingError, /last tier/);
    expect(() =>
      exactAmount(spec({ model: "graduated", tiers: [{ upTo: "10", unitPrice: "1", flatFee: "0" }, { upTo: "5", unitPrice: "1", flatFee: "0" }] }), 11n),
    ).to.throw(PricingError, /exceed/);
    expect(() => exactAmount(spec({ model: "per_unit", unitPrice: "1.2.3" }), 1n)).to.throw(DecimalError);
  });

  it("minimum tops up to the plan minimum and lines always sum to the total", function () {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(tiersArb, qtyArb), { minLength: 0, maxLength: 4 }),
        fc.bigInt({ min: 0n, max: 10n ** 9n }),
        fc.integer({ min: 0, max: 4 }),
        (meters, minimum, exp) => {
          const prices = meters.map(([tiers], i) => spec({ meterId: i + 1, model: "graduated", tiers }));
          const usage = meters.map(([, q], i) => ({ meterId: i + 1, quantity: q }));
          const { lines, totalMinor } = buildLines({ prices, usage, minimumMinor: minimum, currencyExponent: exp });
          const sum = lines.reduce((a, l) => a + l.amountMinor, 0n);
          const usageSum = lines.filter((l) => l.kind === "usage").reduce((a, l) => a + l.amountMinor, 0n);
          const minLine = lines.find((l) => l.kind === "minimum");
          return (
            sum === totalMinor &&
            totalMinor >= minimum &&
            (minLine === undefined ? usageSum >= minimum : minLine.amountMinor === minimumTopUpMinor(minimum, usageSum) && minLine.amountMinor > 0n)
          );
        },
      ),
    );
  });
});

describe("billing: periods in the tenant's time zone", function () {
  it("months are half-open local-midnight intervals across DST changes", function () {
    for (const zone of ["Europe/Berlin", "America/New_York", "UTC", "Australia/Lord_Howe"]) {
      fc.assert(
        fc.property(fc.date({ min: new Date("2020-01-01T00:00:00Z"), max: new Date("2035-12-31T00:00:00Z"), noInvalidDate: true }), (at) => {
          const p = periodContaining(at, zone);
          const s = DateTime.fromJSDate(p.start, { zone });
          const e = DateTime.fromJSDate(p.end, { zone });
          const next = nextPeriod(p, zone);
          return (
            contains(p, at) &&
            !contains(p, p.end) &&
            s.day === 1 && s.hour === 0 && s.minute === 0 &&
            e.day === 1 && e.hour === 0 &&
            next.start.getTime() === p.end.getTime() &&
            !contains(periodContaining(new Date(p.start.getTime() - 1), zone), p.start)
          );
        }),
      );
    }
  });

  it("March in Berlin is 743 hours, October 745; New York March 743", function () {
    const hours = (zone: string, iso: string) => {
      const p = periodContaining(new Date(iso), zone);
      return (p.end.getTime() - p.start.getTime()) / 3_600_000;
    };
    expect(hours("Europe/Berlin", "2026-03-15T12:00:00Z")).to.equal(743);
    expect(hours("Europe/Berlin", "2026-10-15T12:00:00Z")).to.equal(745);
    expect(hours("America/New_York", "2026-03-15T12:00:00Z")).to.equal(743);
    // The instant just before local midnight of April 1st (CEST, UTC+2) is still March.
    const p = periodContaining(new Date("2026-03-31T21:59:59.999Z"), "Europe/Berlin");
    expect(p.start.toISOString()).to.equal("2026-02-28T23:00:00.000Z");
    expect(p.end.toISOString()).to.equal("2026-03-31T22:00:00.000Z");
  });
});
