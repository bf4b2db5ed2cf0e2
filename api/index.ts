import { randomUUID } from "node:crypto";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { Database } from "../db/connection";
import { createTokenVerifier } from "./auth/verify-token";
import type { ApiConfig } from "./config";
import { createTenantDb } from "./db/tenant-transaction";
import { AuthError } from "./errors";
import { readiness } from "./health";
import { executeJson } from "./http/fast-path";
import { BodyTooLarge, bridge, readBody } from "./http/fetch-bridge";
import { createRateLimiter, type RateLimiter } from "./http/rate-limit";
import { setSecurityHeaders } from "./http/security-headers";
import { createApiMetrics } from "./metrics";
import { createNotificationHub } from "./notifications";
import { buildSchema } from "./schema";
import { createApiYoga, type ServerContext } from "./yoga";
import { recordAudit } from "./audit";

export interface ApiDeps {
  db: Database;
  logger: Logger;
  registry?: Registry;
  /** Latest chain block, for /readyz's indexer-lag check (omitted: lag is not checked). */
  chainHead?: () => Promise<bigint>;
}

export interface RunningApi {
  url: string;
  close(): Promise<void>;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}, raw?: string): void {
  const text = raw ?? JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

function setRateHeaders(res: ServerResponse, r: ReturnType<RateLimiter["take"]>): void {
  res.setHeader("RateLimit-Limit", String(r.limit));
  res.setHeader("RateLimit-Remaining", String(r.remaining));
  res.setHeader("RateLimit-Reset", String(r.resetS));
}

export async function startApi(config: ApiConfig, deps: ApiDeps): Promise<RunningApi> {
  const { db } = deps;
  const logger = deps.logger.child({ component: "api" });
  const metrics = createApiMetrics(deps.registry, db.pool);
  const verifier = createTokenVerifier(config.oidc, { jwksCooldownMs: config.jwksCooldownMs });
  const tenantDb = createTenantDb(db.pool, { role: config.databaseRole, statementTimeoutMs: config.statementTimeoutMs });
  const notifications = await createNotificationHub(db, logger);
  const yoga = createApiYoga(config, buildSchema());
  const ipLimiter = createRateLimiter({ perSecond: config.rateLimit.ipPerS, burst: config.rateLimit.ipBurst });
  const tenantLimiter = createRateLimiter({ perSecond: config.rateLimit.tenantPerS, burst: config.rateLimit.tenantBurst });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const header = req.headers["x-request-id"];
    const requestId = typeof header === "string" && REQUEST_ID.test(header) ? header : randomUUID();
    const url = new URL(req.url ?? "/", "http://api.invalid");
    const route = ["/graphql", "/healthz", "/readyz", "/metrics"].includes(url.pathname) ? url.pathname : "other";
    const meta: { operationName?: string; tenant?: string; subject?: string; authFailure?: string } = {};
    res.setHeader("X-Request-Id", requestId);
    const accept = req.headers.accept ?? "";
    const graphiqlPage = config.graphiql && req.method === "GET" && accept.includes("text/html") && route === "/graphql";
    setSecurityHeaders(res, graphiqlPage);
    res.on("finish", () => {
      const seconds = (performance.now() - started) / 1000;
      metrics.requests.inc({ route, status: String(res.statusCode) });
      metrics.duration.observe({ route, operation: meta.operationName ?? "" }, seconds);
      if (route === "/healthz" || route === "/metrics") return;
      // Never the body, the query text or any header: only what identifies the request.
      logger.info(
        {
          reqId: requestId,
          method: req.method,
          route,
          status: res.statusCode,
          tenant: meta.tenant,
          sub: meta.subject,
          operation: meta.operationName,
          authFailure: meta.authFailure,
          ms: Math.round(seconds * 1000 * 10) / 10,
        },
        "request",
      );
    });

    if (route === "/healthz") return json(res, 200, { status: "ok" });
    if (route === "/readyz") {
      const r = await readiness(db.pool, config.indexerMaxLagBlocks, deps.chainHead);
      return json(res, r.ready ? 200 : 503, r);
    }
    if (route === "/metrics") {
      const body = await metrics.registry.metrics();
      res.writeHead(200, { "content-type": metrics.registry.contentType });
      res.end(body);
      return;
    }
    if (route !== "/graphql") return json(res, 404, { errors: [{ message: "Not found." }] });

    const ip = req.socket.remoteAddress ?? "unknown";
    const ipRate = ipLimiter.take(ip);
    if (!ipRate.allowed) {
      metrics.rateLimited.inc({ scope: "ip" });
      setRateHeaders(res, ipRate);
      return json(res, 429, { errors: [{ message: "Too many requests.", extensions: { code: "RATE_LIMITED" } }] }, { "retry-after": String(ipRate.resetS) });
    }
    // CORS preflight and the GraphiQL page carry no token.
    if (req.method === "OPTIONS" || graphiqlPage) {
      await bridge(req, res, undefined, (u, init) => yoga.fetch(u, init, { meta } as unknown as ServerContext));
      return;
    }
    if (req.method !== "GET" && req.method !== "POST") return json(res, 405, { errors: [{ message: "Method not allowed." }] }, { allow: "GET, POST, OPTIONS" });
    let body: Buffer | undefined;
    if (req.method === "POST") {
      const length = req.headers["content-length"];
      if (length !== undefined && (!/^\d+$/.test(length) || Number(length) > config.bodyLimitBytes)) {
        return json(res, 413, { errors: [{ message: "Request body too large." }] }, { connection: "close" });
      }
      // CSRF: only JSON bodies, which a cross-site form cannot send without a preflight.
      const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
      if (type !== "application/json" && type !== "application/graphql-response+json") {
        return json(res, 415, { errors: [{ message: "Content-Type must be application/json." }] });
      }
      try {
        body = await readBody(req, config.bodyLimitBytes);
      } catch (err) {
        if (err instanceof BodyTooLarge) return json(res, 413, { errors: [{ message: "Request body too large." }] }, { connection: "close" });
        throw err;
      }
    }

    let principal;
    try {
      const acting = req.headers["meterline-tenant"];
      principal = await verifier.verify(req.headers.authorization, typeof acting === "string" ? acting : undefined);
    } catch (err) {
      const reason = err instanceof AuthError ? err.reason : "malformed";
      if (!(err instanceof AuthError)) logger.warn({ reqId: requestId, err: (err as Error).message }, "token verification error");
      meta.authFailure = reason;
      metrics.authFailures.inc({ reason });
      return json(
        res,
        401,
        { errors: [{ message: "Unauthorized.", extensions: { code: "UNAUTHENTICATED" } }] },
        { "www-authenticate": reason === "missing_token" ? 'Bearer realm="meterline"' : 'Bearer realm="meterline", error="invalid_token"' },
      );
    }
    meta.tenant = principal.tenant;
    meta.subject = principal.subject;
    const tenantRate = tenantLimiter.take(principal.tenant);
    setRateHeaders(res, tenantRate);
    if (!tenantRate.allowed) {
      metrics.rateLimited.inc({ scope: "tenant" });
      return json(res, 429, { errors: [{ message: "Too many requests.", extensions: { code: "RATE_LIMITED" } }] }, { "retry-after": String(tenantRate.resetS) });
    }
    const context = {
      principal,
      db: tenantDb,
      notifications,
      webhookKey: config.webhookEncryptionKey,
      requestId,
      ip,
      userAgent: String(req.headers["user-agent"] ?? ""),
      logger,
      meta,
    } satisfies ServerContext;
    if (principal.platform) {
      // Every request of a platform operator on a tenant leaves an audit row before it runs.
      const p = principal;
      const known = await tenantDb.run(p, async (c, tenantId) => {
        if (tenantId === null) return false;
        await recordAudit(c, tenantId, context, { action: "platform.request", entityType: "tenant", entityId: p.tenant, changes: { tokenTenant: p.tokenTenant } });
        return true;
      });
      if (!known) {
        metrics.authFailures.inc({ reason: "platform_tenant" });
        return json(res, 403, { errors: [{ message: "Not allowed.", extensions: { code: "FORBIDDEN" } }] });
      }
    }
    const wantsStream = (req.headers.accept ?? "").includes("text/event-stream");
    if (req.method === "POST" && body && !wantsStream && req.headers.origin === undefined) {
      const fast = await executeJson(yoga, body, context);
      if (fast) return json(res, fast.status, undefined, {}, fast.payload);
    }
    await bridge(req, res, body, (u, init) => yoga.fetch(u, init, context));
  }

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      logger.error({ err: (err as Error).message }, "request failed");
      if (!res.headersSent) json(res, 500, { errors: [{ message: "Unexpected error." }] });
      else res.destroy();
    });
  };
  const server: Server = config.tls ? createHttpsServer({ cert: config.tls.cert, key: config.tls.key }, listener) : createHttpServer(listener);
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  // SSE streams live as long as their token; keep-alive sockets do not.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `${config.tls ? "https" : "http"}://${host}:${address.port}`;
  logger.info({ url }, "api listening");
  return {
    url,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await notifications.close();
    },
  };
}
