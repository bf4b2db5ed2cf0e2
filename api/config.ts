import { readFileSync } from "node:fs";
import { z } from "zod";
import type { DestinationPolicy } from "../webhooks/destinations";
import { parseClaimPath } from "./auth/claims";
import { parseCidrs, type Cidr } from "./http/client-ip";
import { keyRingFromEnv, WebhookSecretError, type KeyRing } from "../webhooks/secrets";

/** A bad setting: the message is one line naming the variable, safe to print at startup. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

export const FORBIDDEN_ALGORITHMS = /^(none|HS\d+)$/i;
export const ASYMMETRIC_ALGORITHMS: ReadonlySet<string> = new Set([
  "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519",
]);

/** The JWT `typ` values an access token may carry (RFC 9068's, or plain JWT for IdPs that do not type them). */
export const TOKEN_TYPE = /^(at\+jwt|application\/at\+jwt|JWT)$/i;

const csv = (s: string) =>
  s
    .split(",")
    .map((v) => v.trim())
    .filter((v) => v !== "");

const bool = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((v) => v === "true" || v === "1" || v === "yes");

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

// A claim path (auth/claims.ts): dot-separated, or one whole URL-like claim name (Auth0's).
const claimPath = z
  .string()
  .min(1)
  .transform((s) => parseClaimPath(s) ?? [])
  .refine((segments) => segments.length > 0, "empty segment in claim path");

const schema = z.object({
  NODE_ENV: z.enum(["production", "development", "test"]).default("production"),
  HOST: z.string().min(1).default("127.0.0.1"),
  PORT: int(0, 65535).default(4000),
  DATABASE_URL: z.string().url().optional(),
  PGLITE_DIR: z.string().min(1).optional(),
  API_DATABASE_ROLE: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a plain lower-case role name").default("meterline_api"),
  OIDC_ISSUER: z.string().url(),
  OIDC_AUDIENCE: z.string().min(1),
  OIDC_ALGORITHMS: z
    .string()
    .default("ES256,RS256")
    .transform(csv)
    .refine((a) => a.length > 0, "at least one algorithm")
    .refine((a) => a.every((x) => !FORBIDDEN_ALGORITHMS.test(x)), "HS* and none are never accepted")
    .refine((a) => a.every((x) => ASYMMETRIC_ALGORITHMS.has(x)), "unknown asymmetric algorithm"),
  OIDC_TOKEN_TYPES: z
    .string()
    .default("at+jwt")
    .transform(csv)
    .refine((t) => t.length > 0, "at least one token type")
    .refine((t) => t.every((x) => TOKEN_TYPE.test(x)), "allowed: at+jwt, JWT"),
  TENANT_CLAIM: claimPath.default("tenant_id"),
  ROLES_CLAIM: claimPath.default("roles"),
  // Platform roles are `<prefix>viewer`, `<prefix>admin`, `<prefix>billing`, `<prefix>auditor`.
  PLATFORM_ROLE_PREFIX: z.string().regex(/^[^\s]{1,64}$/, "1-64 characters without spaces").default("platform:"),
  CLOCK_TOLERANCE_S: int(0, 300).default(30),
  MAX_TOKEN_AGE_S: int(60, 86_400).default(3600),
  GRAPHIQL: bool.default("false"),
  INTROSPECTION: bool.default("false"),
  CORS_ORIGINS: z
    .string()
    .default("")
    .transform(csv)
    .refine((o) => o.every((x) => /^https?:\/\/[^/]+$/.test(x)), "origins are scheme://host[:port] without a path"),
  RATE_LIMIT_TENANT_PER_S: z.coerce.number().positive().default(200),
  RATE_LIMIT_TENANT_BURST: int(1, 1_000_000).default(400),
  RATE_LIMIT_IP_PER_S: z.coerce.number().positive().default(100),
  RATE_LIMIT_IP_BURST: int(1, 1_000_000).default(200),
  RATE_LIMIT_STORE: z.enum(["memory", "redis"]).default("memory"),
  REDIS_URL: z.string().regex(/^rediss?:\/\/\S+$/, "must be a redis:// or rediss:// URL").optional(),
  RATE_LIMIT_KEY_PREFIX: z.string().regex(/^[A-Za-z0-9:._-]{1,64}$/, "1-64 characters of A-Z a-z 0-9 : . _ -").default("meterline:rl:"),
  BODY_LIMIT_BYTES: int(256, 10_000_000).default(100_000),
  STATEMENT_TIMEOUT_MS: int(1, 600_000).default(5000),
  MAX_DEPTH: int(2, 50).default(8),
  MAX_ALIASES: int(0, 100).default(15),
  MAX_COST: int(10, 1_000_000).default(5000),
  MAX_TOKENS: int(50, 100_000).default(2000),
  MAX_DIRECTIVES: int(0, 100).default(20),
  TLS_CERT_FILE: z.string().min(1).optional(),
  TLS_KEY_FILE: z.string().min(1).optional(),
  TLS_MIN_VERSION: z.enum(["TLSv1.2", "TLSv1.3"], { errorMap: () => ({ message: "TLSv1.2 or TLSv1.3 (older versions are never accepted)" }) }).default("TLSv1.2"),
  HTTP_REDIRECT_PORT: int(0, 65535).optional(),
  INDEXER_MAX_LAG_BLOCKS: int(0, 10_000_000).default(50),
  // The chain's JSON-RPC endpoint, for /readyz's indexer-lag check only.
  RPC_URL: z.string().url().refine((u) => /^https?:/.test(u), "must be an http(s) URL").optional(),
  METRICS_HOST: z.string().min(1).default("127.0.0.1"),
  METRICS_PORT: z.union([z.literal("off"), int(0, 65535)]).optional(),
  // Operation names of the deployment's own clients kept as `operation` metric labels.
  METRICS_OPERATIONS: z
    .string()
    .default("")
    .transform(csv)
    .refine((names) => names.length <= 200, "at most 200 names")
    .refine((names) => names.every((n) => /^[_A-Za-z][_0-9A-Za-z]{0,99}$/.test(n)), "GraphQL operation names only"),
  // The billing worker's setting, shared: a reissue finalizes only usage this deep in the chain.
  CONFIRMATIONS: int(0, 1_000_000).default(12),
  // The webhook dispatcher's key (base64 of 32 bytes), shared so the API can store new secrets.
  WEBHOOK_ENCRYPTION_KEY: z.string().optional(),
  WEBHOOK_ENCRYPTION_KEYS: z.string().optional(),
  WEBHOOK_ALLOW_LOOPBACK_HTTP: bool.default("false"),
  JWKS_COOLDOWN_S: int(0, 3600).default(30),
  // Proxies (addresses or CIDRs) whose X-Forwarded-For entries are believed; none by default.
  TRUSTED_PROXIES: z
    .string()
    .default("")
    .transform(csv)
    .superRefine((entries, ctx) => {
      const { bad } = parseCidrs(entries);
      if (bad !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `not an address or CIDR: ${bad}` });
    }),
});

export interface ApiConfig {
  env: "production" | "development" | "test";
  host: string;
  port: number;
  databaseUrl?: string;
  pgliteDir?: string;
  databaseRole: string;
  oidc: {
    issuer: string;
    audience: string;
    algorithms: string[];
    tokenTypes: string[];
    tenantClaim: string[];
    rolesClaim: string[];
    /** How the IdP names platform roles: this prefix + viewer, admin, billing or auditor. */
    platformRolePrefix: string;
    clockToleranceS: number;
    maxTokenAgeS: number;
  };
  graphiql: boolean;
  introspection: boolean;
  corsOrigins: string[];
  rateLimit: {
    tenantPerS: number;
    tenantBurst: number;
    ipPerS: number;
    ipBurst: number;
    /** Shared by every replica (Redis) or this process's own (memory). */
    store: { kind: "memory" } | { kind: "redis"; url: string; keyPrefix: string };
  };
  bodyLimitBytes: number;
  statementTimeoutMs: number;
  limits: { depth: number; aliases: number; cost: number; tokens: number; directives: number };
  tls?: { cert: Buffer; key: Buffer; minVersion: "TLSv1.2" | "TLSv1.3" };
  /** A plain-HTTP listener on HOST that only redirects to https (TLS mode only). */
  httpRedirectPort?: number;
  indexerMaxLagBlocks: number;
  /** The chain's JSON-RPC endpoint: /readyz checks indexer lag against its head. */
  rpcUrl?: string;
  /** The operations listener (/metrics, /healthz, /readyz); null when METRICS_PORT=off. */
  metrics: { host: string; port: number } | null;
  /** Operation names kept as metric labels besides the schema's root fields. */
  metricsOperations: string[];
  /** Blocks below the indexer's checkpoint after which usage is final (void-and-reissue finalizes with it). */
  confirmations: number;
  /** AES-256-GCM key shared with the webhook dispatcher; webhook mutations are off without it. */
  webhookEncryptionKey?: KeyRing;
  /** Which webhook URLs tenants may register (public https; http to loopback only when allowed, for development). */
  webhookDestinations: DestinationPolicy;
  /** Minimum time between JWKS refetches triggered by an unknown kid. */
  jwksCooldownMs: number;
  /** Proxies whose X-Forwarded-For is believed, hop by hop from the right (http/client-ip.ts). */
  trustedProxies: Cidr[];
}

/** Parses and validates the API's environment once, at the edge. */
export function parseApiConfig(env: NodeJS.ProcessEnv): ApiConfig {
  // Empty strings mean "unset" (docker-compose and .env files produce them).
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  // The one role that once granted a platform operator everything is gone; refusing to start beats
  // silently changing who may do what on every tenant.
  if (cleaned.PLATFORM_ROLE !== undefined) {
    throw new ConfigError("PLATFORM_ROLE: no longer used; grant platform operators PLATFORM_ROLE_PREFIX + viewer, admin, billing or auditor (see docs/api.md)");
  }
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0] ?? "configuration");
    throw new ConfigError(issue.message.startsWith(`${variable}: `) ? issue.message : `${variable}: ${issue.message}`);
  }
  const c = parsed.data;
  if (Boolean(c.TLS_CERT_FILE) !== Boolean(c.TLS_KEY_FILE)) {
    throw new ConfigError(`${c.TLS_CERT_FILE ? "TLS_KEY_FILE" : "TLS_CERT_FILE"}: TLS needs both certificate and key`);
  }
  if (c.NODE_ENV === "production" && !c.OIDC_ISSUER.startsWith("https://") && !/^http:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(c.OIDC_ISSUER)) {
    throw new ConfigError("OIDC_ISSUER: must be https outside loopback in production");
  }
  if (c.RATE_LIMIT_STORE === "redis" && !c.REDIS_URL) throw new ConfigError("REDIS_URL: required when RATE_LIMIT_STORE=redis");
  if (c.HTTP_REDIRECT_PORT !== undefined && !c.TLS_CERT_FILE) throw new ConfigError("HTTP_REDIRECT_PORT: redirects to the API's https port, so it needs TLS_CERT_FILE and TLS_KEY_FILE");
  let tls: ApiConfig["tls"];
  if (c.TLS_CERT_FILE && c.TLS_KEY_FILE) {
    const read = (variable: string, file: string) => {
      try {
        return readFileSync(file);
      } catch {
        throw new ConfigError(`${variable}: cannot read ${file}`);
      }
    };
    tls = { cert: read("TLS_CERT_FILE", c.TLS_CERT_FILE), key: read("TLS_KEY_FILE", c.TLS_KEY_FILE), minVersion: c.TLS_MIN_VERSION };
  }
  let webhookKeys: KeyRing | undefined;
  try {
    webhookKeys = keyRingFromEnv(c);
  } catch (err) {
    if (err instanceof WebhookSecretError) throw new ConfigError(err.message);
    throw err;
  }
  return {
    env: c.NODE_ENV,
    host: c.HOST,
    port: c.PORT,
    ...(c.DATABASE_URL ? { databaseUrl: c.DATABASE_URL } : {}),
    ...(c.PGLITE_DIR ? { pgliteDir: c.PGLITE_DIR } : {}),
    databaseRole: c.API_DATABASE_ROLE,
    oidc: {
      issuer: c.OIDC_ISSUER.replace(/\/$/, ""),
      audience: c.OIDC_AUDIENCE,
      algorithms: c.OIDC_ALGORITHMS,
      tokenTypes: c.OIDC_TOKEN_TYPES,
      tenantClaim: c.TENANT_CLAIM,
      rolesClaim: c.ROLES_CLAIM,
      platformRolePrefix: c.PLATFORM_ROLE_PREFIX,
      clockToleranceS: c.CLOCK_TOLERANCE_S,
      maxTokenAgeS: c.MAX_TOKEN_AGE_S,
    },
    graphiql: c.GRAPHIQL,
    introspection: c.INTROSPECTION,
    corsOrigins: c.CORS_ORIGINS,
    rateLimit: {
      tenantPerS: c.RATE_LIMIT_TENANT_PER_S,
      tenantBurst: c.RATE_LIMIT_TENANT_BURST,
      ipPerS: c.RATE_LIMIT_IP_PER_S,
      ipBurst: c.RATE_LIMIT_IP_BURST,
      store: c.RATE_LIMIT_STORE === "redis" ? { kind: "redis", url: c.REDIS_URL!, keyPrefix: c.RATE_LIMIT_KEY_PREFIX } : { kind: "memory" },
    },
    bodyLimitBytes: c.BODY_LIMIT_BYTES,
    statementTimeoutMs: c.STATEMENT_TIMEOUT_MS,
    limits: { depth: c.MAX_DEPTH, aliases: c.MAX_ALIASES, cost: c.MAX_COST, tokens: c.MAX_TOKENS, directives: c.MAX_DIRECTIVES },
    ...(tls ? { tls } : {}),
    ...(c.HTTP_REDIRECT_PORT !== undefined ? { httpRedirectPort: c.HTTP_REDIRECT_PORT } : {}),
    indexerMaxLagBlocks: c.INDEXER_MAX_LAG_BLOCKS,
    ...(c.RPC_URL ? { rpcUrl: c.RPC_URL } : {}),
    // 9467 in production (next to the indexer's 9464, billing's 9465, webhook delivery's 9466);
    // elsewhere a free port, so development stacks and test runs never collide on it.
    metrics: c.METRICS_PORT === "off" ? null : { host: c.METRICS_HOST, port: c.METRICS_PORT ?? (c.NODE_ENV === "production" ? 9467 : 0) },
    metricsOperations: c.METRICS_OPERATIONS,
    ...(webhookKeys ? { webhookEncryptionKey: webhookKeys } : {}),
    webhookDestinations: { allowLoopbackHttp: c.WEBHOOK_ALLOW_LOOPBACK_HTTP },
    confirmations: c.CONFIRMATIONS,
    jwksCooldownMs: c.JWKS_COOLDOWN_S * 1000,
    trustedProxies: parseCidrs(c.TRUSTED_PROXIES).cidrs,
  };
}
