import { EnvelopArmorPlugin } from "@escape.tech/graphql-armor";
import { NoSchemaIntrospectionCustomRule, type GraphQLSchema } from "graphql";
import { createYoga, type Plugin, type YogaServerInstance } from "graphql-yoga";
import type { ApiConfig } from "./config";
import type { RequestContext } from "./context";

/** What the HTTP layer hands yoga per request; `meta` carries the operation name back for logs. */
export type ServerContext = Omit<RequestContext, never> & { meta: { operationName?: string } };

function blockIntrospection(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
}

function captureOperationName(): Plugin<Record<string, unknown>, ServerContext> {
  return {
    onParams({ params, context }) {
      if (typeof params.operationName === "string") context.meta.operationName = params.operationName.slice(0, 100);
    },
  };
}

export function createApiYoga(config: ApiConfig, schema: GraphQLSchema): YogaServerInstance<ServerContext, object> {
  const { limits } = config;
  return createYoga<ServerContext>({
    schema,
    graphqlEndpoint: "/graphql",
    graphiql: config.graphiql ? { title: "Meterline", subscriptionsProtocol: "SSE" } : false,
    landingPage: false,
    multipart: false,
    batching: false,
    logging: false,
    // Unexpected errors (database, bugs) reach the client as "Unexpected error." only; details
    // are kept for development.
    maskedErrors: { isDev: config.env === "development" },
    cors:
      config.corsOrigins.length > 0
        ? {
            origin: config.corsOrigins,
            credentials: false,
            methods: ["GET", "POST", "OPTIONS"],
            allowedHeaders: ["authorization", "content-type", "accept", "meterline-tenant"],
            exposedHeaders: ["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "retry-after", "x-request-id"],
            maxAge: 600,
          }
        : false,
    plugins: [
      EnvelopArmorPlugin({
        maxDepth: { n: limits.depth, exposeLimits: false, flattenFragments: true },
        maxAliases: { n: limits.aliases, exposeLimits: false },
        costLimit: { maxCost: limits.cost, exposeLimits: false },
        maxTokens: { n: limits.tokens, exposeLimits: false },
        maxDirectives: { n: limits.directives, exposeLimits: false },
        blockFieldSuggestion: { enabled: true },
      }),
      ...(config.introspection ? [] : [blockIntrospection()]),
      captureOperationName(),
    ],
  });
}
