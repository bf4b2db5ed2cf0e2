import { createSchema } from "graphql-yoga";
import type { GraphQLSchema } from "graphql";
import type { RequestContext } from "../context";
import { applyAuthDirective } from "./auth-directive";
import { auditLogResolvers } from "./audit-log";
import { billingResolvers } from "./billing";
import { chainResolvers } from "./chain";
import { BigIntScalar, DateTime } from "./scalars";
import { subscriptionResolvers } from "./subscriptions";
import { typeDefs } from "./type-defs";
import { usageResolvers } from "./usage";
import { webhookResolvers } from "./webhooks";

export function buildSchema(): GraphQLSchema {
  const schema = createSchema<RequestContext>({
    typeDefs,
    resolvers: [
      { DateTime, BigInt: BigIntScalar },
      chainResolvers,
      usageResolvers,
      billingResolvers,
      webhookResolvers,
      auditLogResolvers,
      subscriptionResolvers,
    ],
  });
  return applyAuthDirective(schema);
}
