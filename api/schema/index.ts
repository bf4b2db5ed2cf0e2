import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { isEnumType, type GraphQLSchema } from "graphql";
import { createSchema } from "graphql-yoga";
import { AGGREGATIONS } from "../../rating/aggregation";
import type { RequestContext } from "../context";
import { resolvers } from "../resolvers";
import { BigIntScalar, DateTime, DecimalScalar } from "./scalars";

/** The SDL: every .graphql file beside this one, read once at start. */
export function loadTypeDefs(dir: string = __dirname): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".graphql"))
    .sort()
    .map((f) => readFileSync(path.join(dir, f), "utf8"));
}

/**
 * The executable schema: SDL bound to the resolvers. Role enforcement is applied on top by the
 * caller (auth/role-directive.ts), which refuses a root field without @auth.
 */
export function buildSchema(): GraphQLSchema {
  const schema = createSchema<RequestContext>({
    typeDefs: loadTypeDefs(),
    resolvers: [{ DateTime, BigInt: BigIntScalar, Decimal: DecimalScalar }, ...resolvers],
  });
  // The enum is rating's list (rating/aggregation.ts) written out for the SDL: fail at start if
  // they ever differ, not when a meter configured with the missing one is read.
  const aggregation = schema.getType("Aggregation");
  const values = isEnumType(aggregation) ? aggregation.getValues().map((v) => v.name) : [];
  if (values.join() !== AGGREGATIONS.join()) throw new Error(`schema enum Aggregation (${values.join()}) differs from rating's (${AGGREGATIONS.join()})`);
  return schema;
}
