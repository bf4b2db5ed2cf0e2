import { defaultFieldResolver, getDirectiveValues, isObjectType, type GraphQLSchema } from "graphql";
import type { RequestContext } from "../context";
import { ForbiddenError } from "../errors";
import { satisfies, type Requirement } from "./roles";

const ROOT_TYPES = ["Query", "Mutation", "Subscription"];

/**
 * Enforces the schema's @auth(requires: ROLE) by wrapping the resolver (and subscribe) of every annotated
 * field. Role checks live only here. Every root field must be annotated: an undeclared one
 * would be reachable by any authenticated caller, so it fails startup instead.
 */
export function enforceRoles(schema: GraphQLSchema): GraphQLSchema {
  const directive = schema.getDirective("auth");
  if (!directive) throw new Error("schema lacks the @auth directive");
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith("__")) continue;
    for (const field of Object.values(type.getFields())) {
      const args = field.astNode ? getDirectiveValues(directive, field.astNode) : undefined;
      if (!args) {
        if (ROOT_TYPES.includes(type.name)) throw new Error(`${type.name}.${field.name} has no @auth requirement`);
        continue;
      }
      const requirement = args.requires as Requirement;
      const guard = (ctx: RequestContext) => {
        if (!satisfies(ctx.principal.roles, requirement)) throw new ForbiddenError();
      };
      const resolve = field.resolve ?? defaultFieldResolver;
      field.resolve = (source, fieldArgs, ctx: RequestContext, info) => {
        guard(ctx);
        return resolve(source, fieldArgs, ctx, info);
      };
      if (field.subscribe) {
        const subscribe = field.subscribe;
        field.subscribe = (source, fieldArgs, ctx: RequestContext, info) => {
          guard(ctx);
          return subscribe(source, fieldArgs, ctx, info);
        };
      }
    }
  }
  return schema;
}
