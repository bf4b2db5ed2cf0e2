import { EnvelopArmorPlugin } from "@escape.tech/graphql-armor";
import { GraphQLError, NoSchemaIntrospectionCustomRule, type GraphQLSchema } from "graphql";
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

// Validation errors (including armor's) answer 400 whatever media type the client accepts.
function badDocumentIs400(): Plugin {
  const as400 = (e: GraphQLError, code: string) =>
    new GraphQLError(e.message, { extensions: { code, http: { status: 400 } } });
  return {
    onValidate() {
      return ({ result, setResult }) => {
        if (result.length > 0) setResult(result.map((e) => as400(e, "GRAPHQL_VALIDATION_FAILED")));
      };
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

// Armor's rejections carry no HTTP status and would go out as 200 under application/json; a
// document the server refuses is the client's error.
const rejectAs400 = (_ctx: unknown, err: GraphQLError) => {
  Object.assign(err.extensions, { code: "GRAPHQL_VALIDATION_FAILED", http: { status: 400 } });
};

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
        maxDepth: { n: limits.depth, exposeLimits: false, flattenFragments: true, onReject: [rejectAs400] },
        maxAliases: { n: limits.aliases, exposeLimits: false, onReject: [rejectAs400] },
        costLimit: { maxCost: limits.cost, exposeLimits: false, onReject: [rejectAs400] },
        maxTokens: { n: limits.tokens, exposeLimits: false, onReject: [rejectAs400] },
        maxDirectives: { n: limits.directives, exposeLimits: false, onReject: [rejectAs400] },
        blockFieldSuggestion: { enabled: true },
      }),
      ...(config.introspection ? [] : [blockIntrospection()]),
      badDocumentIs400(),
      captureOperationName(),
    ],
  });
}
