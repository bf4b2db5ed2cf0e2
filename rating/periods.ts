import { DateTime, IANAZone } from "luxon";

/** A billing period [start, end): start inclusive, end exclusive, as absolute instants. */
export interface BillingPeriod {
  start: Date;
  end: Date;
}

export class TimeZoneError extends Error {
  override name = "TimeZoneError";
}

function zoneOf(timeZone: string): IANAZone {
  if (!IANAZone.isValidZone(timeZone)) throw new TimeZoneError(`unknown time zone "${timeZone}"`);
  return IANAZone.create(timeZone);
}

/**
 * The calendar month containing `at` in `timeZone`. Month boundaries are local midnights, so a
 * period in Europe/Berlin is 743 or 745 hours long in the months with a DST change; luxon resolves
 * the local midnight to the right UTC instant. Same result as SQL billing_period_start/end.
 */
export function periodContaining(at: Date, timeZone: string): BillingPeriod {
  const local = DateTime.fromJSDate(at, { zone: zoneOf(timeZone) });
  const start = local.startOf("month");
  const end = start.plus({ months: 1 });
  return { start: start.toJSDate(), end: end.toJSDate() };
}

/** The period right after `period` in `timeZone`. */
export function nextPeriod(period: BillingPeriod, timeZone: string): BillingPeriod {
  return periodContaining(period.end, timeZone);
}

export function contains(period: BillingPeriod, at: Date): boolean {
  return at.getTime() >= period.start.getTime() && at.getTime() < period.end.getTime();
}
