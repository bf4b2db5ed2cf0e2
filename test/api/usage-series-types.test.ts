import { expect } from "chai";
import pg from "pg";
import { SERIES_TYPES } from "../../api/read/usage";
import { DateTime } from "../../api/schema/scalars";

const TIMESTAMPTZ = 1184;
const pgDefault = pg.types.getTypeParser(TIMESTAMPTZ, "text") as (text: string) => unknown;
const series = SERIES_TYPES.getTypeParser(TIMESTAMPTZ, "text") as (text: string) => unknown;

/** What the scalar writes for a value, or the error it throws. */
function written(value: unknown): string {
  try {
    return DateTime.serialize(value) as string;
  } catch (err) {
    return `throws ${(err as Error).name}: ${(err as Error).message}`;
  }
}

/**
 * The usage series reads bucket starts with its own timestamptz parser (api/read/usage.ts): text
 * already in the scalar's form skips the Date. Whatever PostgreSQL sends, the API must write what
 * pg's own parser and the scalar wrote before.
 */
describe("api: the usage series' timestamp parser writes what pg's parser and the scalar wrote", function () {
  const texts = [
    "2026-01-01 00:00:00+00",
    "2026-03-29 01:00:00+00",
    "1999-12-31 23:59:59+00",
    "1000-01-01 00:00:00+00",
    "9999-12-31 23:00:00+00",
    "0999-06-01 00:00:00+00",
    "0044-03-15 00:00:00+00 BC",
    "10000-01-01 00:00:00+00",
    "2026-01-01 05:45:00+05:45",
    "2025-12-31 19:00:00-05",
    "2026-01-01 00:00:00.5+00",
    "2026-01-01 00:00:00.123456+00",
    "1901-12-13 20:45:52+00:00:12",
    "infinity",
    "-infinity",
  ];
  for (const text of texts) {
    it(text, function () {
      expect(written(series(text))).to.equal(written(pgDefault(text)));
    });
  }

  it("leaves every other type to pg's parsers", function () {
    for (const oid of [20, 23, 25, 1082, 1114, 1700]) expect(SERIES_TYPES.getTypeParser(oid, "text")).to.equal(pg.types.getTypeParser(oid, "text"));
  });
});
