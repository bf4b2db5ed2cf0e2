import { expect } from "chai";
import { toCsv } from "../../dashboard/src/csv";
import { count, dayIn, money, nextDay, startOfDay } from "../../dashboard/src/format";

describe("dashboard formatting (dashboard/src/format.ts, csv.ts)", function () {
  it("finds when a calendar day starts in the tenant's zone, across daylight-saving changes", function () {
    expect(startOfDay("2026-01-15", "Europe/Berlin").toISOString()).to.equal("2026-01-14T23:00:00.000Z");
    expect(startOfDay("2026-07-15", "Europe/Berlin").toISOString()).to.equal("2026-07-14T22:00:00.000Z");
    // The days clocks change: the day starts at the offset of its midnight.
    expect(startOfDay("2026-03-29", "Europe/Berlin").toISOString()).to.equal("2026-03-28T23:00:00.000Z");
    expect(startOfDay("2026-10-25", "Europe/Berlin").toISOString()).to.equal("2026-10-24T22:00:00.000Z");
    expect(startOfDay("2026-03-08", "America/New_York").toISOString()).to.equal("2026-03-08T05:00:00.000Z");
    expect(startOfDay("2026-06-01", "Asia/Kolkata").toISOString()).to.equal("2026-05-31T18:30:00.000Z");
    expect(startOfDay("2026-06-01", "UTC").toISOString()).to.equal("2026-06-01T00:00:00.000Z");
  });

  it("steps calendar days over month and year ends", function () {
    expect(nextDay("2026-01-31")).to.equal("2026-02-01");
    expect(nextDay("2028-02-28")).to.equal("2028-02-29");
    expect(nextDay("2026-12-31")).to.equal("2027-01-01");
    expect(dayIn("UTC")).to.match(/^\d{4}-\d{2}-\d{2}$/);
  });

  it("formats amounts in minor units exactly (no floating point)", function () {
    expect(money("75134", 2, "USD")).to.equal("751.34 USD");
    expect(money("5", 2, "USD")).to.equal("0.05 USD");
    expect(money("-1234567", 2, "EUR")).to.equal("-12,345.67 EUR");
    expect(money("123456789012345678901234567890", 0, "JPY")).to.equal("123,456,789,012,345,678,901,234,567,890 JPY");
    expect(count("1000000")).to.equal("1,000,000");
  });

  it("writes RFC 4180 CSV and defuses spreadsheet formulas", function () {
    const csv = toCsv(["a", "b"], [["x,y", 'say "hi"'], ["=HYPERLINK(1)", "-12"], [null, "@SUM(A1)"]]);
    expect(csv).to.equal('a,b\r\n"x,y","say ""hi"""\r\n\'=HYPERLINK(1),-12\r\n,\'@SUM(A1)\r\n');
  });
});
