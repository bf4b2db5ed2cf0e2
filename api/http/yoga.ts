import { EnvelopArmorPlugin } from "@escape.tech/graphql-armor";
import { NoSchemaIntrospectionCustomRule, type GraphQLError, type GraphQLSchema } from "graphql";
import { createYoga, type Plugin, type YogaServerInstance } from "graphql-yoga";
import type { Logger } from "pino";
import type { IdentityProviderDirectory } from "../auth/identity-providers";
import type { TokenVerifier } from "../auth/verify-token";
import type { ApiConfig } from "../config";
import type { RequestContext } from "../context";
import { UnauthenticatedError } from "../errors";
import type { NotificationHub } from "../read/notifications";
import type { TenantDb } from "../tenancy/tenant-transaction";
import { useAuthentication } from "./authentication";
import type { GraphiQL } from "./graphiql";
import { useGraphiQLPageHeaders } from "./graphiql";
import { maskError, useRequestErrorStatus, useUnexpectedErrorLog } from "./graphql-errors";
import type { ApiMetrics } from "./metrics";
import { useOperationName } from "./operation-name";
import { usePlatformAudit } from "./platform-audit";
import type { RateLimiter } from "./rate-limit";
import { useRequestShape } from "./request-shape";
import { auditActor, type ServerContext } from "./request-state";
import { useTenantRateLimit } from "./tenant-rate-limit";

export interface YogaDeps {
  schema: GraphQLSchema;
  verifier: TokenVerifier;
  tenantDb: TenantDb;
  notifications: NotificationHub;
  metrics: ApiMetrics;
  logger: Logger;
  /** The per-tenant limit (memory or Redis, made by the composition root). */
  tenantRateLimiter: RateLimiter;
  identityProviders: IdentityProviderDirectory;
  /** Present when GraphiQL is enabled. */
  graphiql: GraphiQL | undefined;
}

export type ApiYoga = YogaServerInstance<ServerContext, RequestContext>;

function blockIntrospection(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
}

// Armor's rejections carry no HTTP status; a document the server refuses is the client's error.
const rejectAs400 = (_ctx: unknown, err: GraphQLError) => {
  Object.assign(err.extensions, { code: "GRAPHQL_VALIDATION_FAILED", http: { status: 400 } });
};

/**
 * The one GraphQL execution path: yoga, served by its own Node adapter. Plugins run in the order
 * listed, after yoga's own CORS and GraphiQL page handling: request shape (405/406/415) →
 * authentication (401) → tenant rate limit (429) → platform audit (403) → parse, document limits,
 * validation → execution with a context built from the verified principal.
 */
export function createApiYoga(config: ApiConfig, deps: YogaDeps): ApiYoga {
  const { limits } = config;
  const cors = config.corsOrigins.length > 0;
  return createYoga<ServerContext, RequestContext>({
    schema: deps.schema,
    graphqlEndpoint: "/graphql",
    // Never reached (the Node stages in front of yoga serve /healthz); set so yoga's own check
    // does not answer some other path ending in /health.
    healthCheckEndpoint: "/healthz",
    graphiql: config.graphiql
      ? {
          title: "Meterline",
          subscriptionsProtocol: "SSE",
          // The header pane opens with the Authorization header to fill in; it is not kept in
          // the browser's storage.
          headers: JSON.stringify({ Authorization: "Bearer <access token>" }, null, 2),
          defaultEditorToolsVisibility: "headers",
          shouldPersistHeaders: false,
        }
      : false,
    ...(deps.graphiql ? { renderGraphiQL: (options) => deps.graphiql!.render(options) } : {}),
    landingPage: false,
    multipart: false,
    batching: false,
    logging: false,
    // Enforced in front of yoga (http/body-limit.ts), which hands yoga the body it read.
    maxRequestBodySize: false,
    maskedErrors: { isDev: config.env === "development", maskError },
    cors: cors
      ? {
          origin: config.corsOrigins,
          credentials: false,
          methods: ["GET", "POST", "OPTIONS"],
          allowedHeaders: ["authorization", "content-type", "accept", "meterline-tenant"],
          exposedHeaders: ["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "retry-after", "x-request-id"],
          maxAge: 600,
        }
      : false,
    context: ({ state }): RequestContext => {
      const principal = state.principal;
      if (!principal) throw new UnauthenticatedError("missing_token");
      return {
        principal,
        db: deps.tenantDb,
        notifications: deps.notifications,
        webhookKey: config.webhookEncryptionKey,
        webhookDestinations: config.webhookDestinations,
        confirmations: config.confirmations,
        actor: auditActor(state, principal),
        logger: deps.logger,
        identityProviders: { directory: deps.identityProviders, defaultIssuer: config.oidc.issuer, httpsOnly: config.env === "production" },
      };
    },
    plugins: [
      useGraphiQLPageHeaders(),
      useRequestShape({ cors }),
      useAuthentication(deps),
      useTenantRateLimit(deps.tenantRateLimiter, deps.metrics),
      usePlatformAudit(deps.tenantDb, deps.metrics, deps.logger),
      useOperationName(),
      useRequestErrorStatus(),
      useUnexpectedErrorLog(deps.logger),
      EnvelopArmorPlugin({
        maxDepth: { n: limits.depth, exposeLimits: false, flattenFragments: true, onReject: [rejectAs400] },
        maxAliases: { n: limits.aliases, exposeLimits: false, onReject: [rejectAs400] },
        costLimit: { maxCost: limits.cost, exposeLimits: false, onReject: [rejectAs400] },
        maxTokens: { n: limits.tokens, exposeLimits: false, onReject: [rejectAs400] },
        maxDirectives: { n: limits.directives, exposeLimits: false, onReject: [rejectAs400] },
        blockFieldSuggestion: { enabled: true },
      }),
      ...(config.introspection ? [] : [blockIntrospection()]),
    ],
  });
}
