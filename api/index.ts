import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { Database } from "../db/connection";
import { createIdentityProviderDirectory } from "./auth/identity-providers";
import { enforceRoles } from "./auth/role-directive";
import { createTokenVerifier } from "./auth/verify-token";
import type { ApiConfig } from "./config";
import { loadGraphiQL } from "./http/graphiql";
import { createDashboard, type DashboardSettings } from "./http/dashboard";
import { createApiMetrics } from "./http/metrics";
import { listenRedirect, type RedirectListener } from "./http/https-redirect";
import { listenOps, type OpsDeps, type OpsListener } from "./http/ops-routes";
import { createOperationLabel } from "./http/operation-name";
import { createPipeline } from "./http/pipeline";
import { createApiRateLimiters } from "./http/rate-limit";
import { listen } from "./http/server";
import { createApiYoga } from "./http/yoga";
import { rpcChainHead } from "./read/chain-head";
import { createNotificationHub } from "./read/notifications";
import { buildSchema } from "./schema";
import { createTenantDb } from "./tenancy/tenant-transaction";

export { parseApiConfig, type ApiConfig } from "./config";

export interface ApiDeps {
  db: Database;
  logger: Logger;
  registry?: Registry;
  /** Latest chain block, for /readyz's indexer-lag check (omitted: from RPC_URL if set, else lag is not checked). */
  chainHead?: () => Promise<bigint>;
  /** The web app served at `/` (parseDashboardConfig); omitted: not served. */
  dashboard?: DashboardSettings;
}

export interface RunningApi {
  url: string;
  /** The plain-HTTP listener that only redirects to https (HTTP_REDIRECT_PORT). */
  redirectUrl: string | undefined;
  /** The operations listener (/metrics, /healthz, /readyz), unless METRICS_PORT=off. */
  metricsUrl: string | undefined;
  close(): Promise<void>;
}

/** The API's composition root: everything it needs is made here from `config` and `deps`. */
export async function startApi(config: ApiConfig, deps: ApiDeps): Promise<RunningApi> {
  const { db } = deps;
  const logger = deps.logger.child({ component: "api" });
  const schema = enforceRoles(buildSchema());
  const metrics = createApiMetrics(deps.registry, db.pool, createOperationLabel(schema, config.metricsOperations));
  const chainHead = deps.chainHead ?? (config.rpcUrl ? rpcChainHead(config.rpcUrl) : undefined);
  const rateLimiters = await createApiRateLimiters(config.rateLimit, metrics.rateLimitStoreErrors, logger);
  const tenantDb = createTenantDb(db.pool, { role: config.databaseRole, statementTimeoutMs: config.statementTimeoutMs });
  const ops: OpsDeps = { db: tenantDb, metrics, maxLagBlocks: config.indexerMaxLagBlocks, chainHead };
  const identityProviders = createIdentityProviderDirectory(tenantDb);
  const verifier = createTokenVerifier(config.oidc, { jwksCooldownMs: config.jwksCooldownMs }, identityProviders);
  const graphiql = config.graphiql ? await loadGraphiQL() : undefined;
  const notifications = await createNotificationHub(db, logger);
  const yoga = createApiYoga(config, { schema, verifier, tenantDb, notifications, metrics, logger, graphiql, tenantRateLimiter: rateLimiters.tenant, identityProviders });
  const server = await listen(
    config,
    createPipeline({
      yoga,
      graphiql,
      metrics,
      logger,
      ipRateLimiter: rateLimiters.ip,
      trustedProxies: config.trustedProxies,
      bodyLimitBytes: config.bodyLimitBytes,
      ops,
      ...(deps.dashboard ? { dashboard: createDashboard(deps.dashboard) } : {}),
    }),
  );
  let opsListener: OpsListener | undefined;
  let redirect: RedirectListener | undefined;
  try {
    opsListener = config.metrics ? await listenOps(config.metrics, ops) : undefined;
    redirect = config.tls && config.httpRedirectPort !== undefined ? await listenRedirect({ host: config.host, port: config.httpRedirectPort, httpsPort: server.port }) : undefined;
  } catch (err) {
    // A port already taken: leave nothing listening behind.
    await opsListener?.close();
    await server.close();
    rateLimiters.close();
    throw err;
  }
  logger.info({ url: server.url, metricsUrl: opsListener?.url, redirectUrl: redirect?.url, indexerLag: chainHead !== undefined }, "api listening");
  return {
    url: server.url,
    metricsUrl: opsListener?.url,
    redirectUrl: redirect?.url,
    async close() {
      await server.close();
      await redirect?.close();
      await opsListener?.close();
      await yoga.dispose();
      await notifications.close();
      rateLimiters.close();
    },
  };
}
