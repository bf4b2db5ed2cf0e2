import { GraphQLScalarType, Kind } from "graphql";
import { BadInputError } from "../errors";

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/;

function parseDate(value: unknown): Date {
  if (typeof value !== "string" || !ISO.test(value)) throw new BadInputError("DateTime must be ISO-8601 with an offset");
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new BadInputError("DateTime must be ISO-8601 with an offset");
  return d;
}

export const DateTime = new GraphQLScalarType<Date, string>({
  name: "DateTime",
  serialize: (v) => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString()),
  parseValue: parseDate,
  parseLiteral: (ast) => parseDate(ast.kind === Kind.STRING ? ast.value : undefined),
});

function parseBigInt(value: unknown): string {
  const s = typeof value === "number" && Number.isSafeInteger(value) ? String(value) : value;
  if (typeof s !== "string" || !/^-?\d{1,78}$/.test(s)) throw new BadInputError("BigInt must be a decimal integer string");
  return BigInt(s).toString();
}

export const BigIntScalar = new GraphQLScalarType<string, string>({
  name: "BigInt",
  serialize: (v) => String(v),
  parseValue: parseBigInt,
  parseLiteral: (ast) => parseBigInt(ast.kind === Kind.STRING || ast.kind === Kind.INT ? ast.value : undefined),
});

// Shape only, and a bound on length; the precision a column takes (numeric(38, 18)) is checked by
// the code that writes it, which names the field.
function parseDecimal(value: unknown): string {
  if (typeof value !== "string" || !/^-?\d{1,78}(\.\d{1,78})?$/.test(value)) throw new BadInputError("Decimal must be a decimal number written as a string, such as \"0.0015\"");
  return value;
}

export const DecimalScalar = new GraphQLScalarType<string, string>({
  name: "Decimal",
  serialize: (v) => String(v),
  parseValue: parseDecimal,
  parseLiteral: (ast) => parseDecimal(ast.kind === Kind.STRING ? ast.value : undefined),
});
