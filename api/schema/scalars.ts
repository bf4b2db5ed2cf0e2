import { GraphQLScalarType, Kind } from "graphql";
import { BadInputError } from "../errors";
import { IsoTimestamp } from "../read/types";

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/;

function parseDate(value: unknown): Date {
  if (typeof value !== "string" || !ISO.test(value)) throw new BadInputError("DateTime must be ISO-8601 with an offset");
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new BadInputError("DateTime must be ISO-8601 with an offset");
  return d;
}

export const DateTime = new GraphQLScalarType<Date, string>({
  name: "DateTime",
  serialize: (v) => (v instanceof Date ? v.toISOString() : v instanceof IsoTimestamp ? v.iso : new Date(String(v)).toISOString()),
  parseValue: parseDate,
  parseLiteral: (ast) => parseDate(ast.kind === Kind.STRING ? ast.value : undefined),
});

// Input scalars check shape only. How many digits a value may have is the column's business: the
// code that writes it checks (billing's count38/price38 for numeric(38, 0) and numeric(38, 18)) and
// names the field, so an over-long number is BAD_USER_INPUT on that field, never a database error.
// Nothing here converts the digits (the body limit bounds their length).
function parseBigInt(value: unknown): string {
  const s = typeof value === "number" && Number.isSafeInteger(value) ? String(value) : value;
  if (typeof s !== "string" || !/^-?\d+$/.test(s)) throw new BadInputError("BigInt must be a decimal integer string");
  const canonical = s.replace(/^(-?)0+(?=\d)/, "$1");
  return canonical === "-0" ? "0" : canonical;
}

export const BigIntScalar = new GraphQLScalarType<string, string>({
  name: "BigInt",
  serialize: (v) => String(v),
  parseValue: parseBigInt,
  parseLiteral: (ast) => parseBigInt(ast.kind === Kind.STRING || ast.kind === Kind.INT ? ast.value : undefined),
});

function parseDecimal(value: unknown): string {
  if (typeof value !== "string" || !/^-?\d+(\.\d+)?$/.test(value)) throw new BadInputError("Decimal must be a decimal number written as a string, such as \"0.0015\"");
  return value;
}

export const DecimalScalar = new GraphQLScalarType<string, string>({
  name: "Decimal",
  serialize: (v) => String(v),
  parseValue: parseDecimal,
  parseLiteral: (ast) => parseDecimal(ast.kind === Kind.STRING ? ast.value : undefined),
});
