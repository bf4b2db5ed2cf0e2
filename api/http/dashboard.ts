import { readFile, stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { z } from "zod";
import { WEBHOOK_EVENT_TYPES } from "../../webhooks/events";
import { ConfigError } from "../config";
import { BadRequestError, NotFoundError } from "../errors";
import { sendError, sendJson } from "./json";

/**
 * The tenant dashboard (dashboard/, built by `npm run build:dashboard` into static files) served
 * by the API at `/`, with the API's security headers and a CSP that lets the app, and nothing
 * else, run. GraphQL stays at /graphql; the app learns where everything is from
 * /dashboard-config.json, written from this server's configuration (no build-time URLs).
 */

/** What the browser app reads from /dashboard-config.json: public settings only, never a secret. */
export interface DashboardPublicConfig {
  graphqlPath: string;
  oidc: { issuer: string; clientId: string; audience: string; scope: string };
  platformRolePrefix: string;
  /** What a webhook endpoint may subscribe to (webhooks/events.ts owns the list). */
  webhookEventTypes: readonly string[];
  /** The chain the verifier reads: null when the server was given none (the button then says so). */
  chain: { rpcUrl: string; chainId: number | null; meter: string | null; anchor: string | null } | null;
}

export interface DashboardSettings {
  /** The built app (index.html and assets/). */
  dir: string;
  config: DashboardPublicConfig;
}

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "expected a 0x address of 20 bytes");
const envSchema = z.object({
  DASHBOARD: z.enum(["true", "false", "1", "0", "yes", "no"]).default("true"),
  DASHBOARD_DIR: z.string().min(1).optional(),
  DASHBOARD_CLIENT_ID: z.string().regex(/^[\w.-]{1,128}$/, "1-128 letters, digits, '.', '_' or '-'").default("meterline-dashboard"),
  DASHBOARD_RPC_URL: z.string().url().optional(),
  DASHBOARD_CHAIN_ID: z.coerce.number().int().positive().optional(),
  DASHBOARD_METER_ADDRESS: address.optional(),
  DASHBOARD_ANCHOR_ADDRESS: address.optional(),
});

export const DEFAULT_DASHBOARD_DIR = path.join(__dirname, "..", "..", "dashboard", "dist");

/**
 * Parses the dashboard's settings once, at the edge; undefined when DASHBOARD=false. The issuer,
 * audience and platform role prefix are the API's own (the app must log in where the API trusts).
 */
export function parseDashboardConfig(
  env: NodeJS.ProcessEnv,
  api: { oidc: { issuer: string; audience: string; platformRolePrefix: string } },
): DashboardSettings | undefined {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`${String(issue.path[0] ?? "DASHBOARD")}: ${issue.message}`);
  }
  const e = parsed.data;
  if (!["true", "1", "yes"].includes(e.DASHBOARD)) return undefined;
  return {
    dir: path.resolve(e.DASHBOARD_DIR ?? DEFAULT_DASHBOARD_DIR),
    config: {
      graphqlPath: "/graphql",
      oidc: { issuer: api.oidc.issuer, clientId: e.DASHBOARD_CLIENT_ID, audience: api.oidc.audience, scope: "openid api" },
      platformRolePrefix: api.oidc.platformRolePrefix,
      webhookEventTypes: WEBHOOK_EVENT_TYPES,
      chain: e.DASHBOARD_RPC_URL
        ? {
            rpcUrl: e.DASHBOARD_RPC_URL,
            chainId: e.DASHBOARD_CHAIN_ID ?? null,
            meter: e.DASHBOARD_METER_ADDRESS ?? null,
            anchor: e.DASHBOARD_ANCHOR_ADDRESS ?? null,
          }
        : null,
    },
  };
}

const origin = (url: string) => new URL(url).origin;

/**
 * The app's CSP: its own scripts and styles only (no inline script, no eval); it talks to this
 * origin (GraphQL and its SSE), the IdP (discovery, token endpoint, JWKS) and the chain's RPC
 * (the in-browser verifier). uPlot and React set styles through the CSSOM, which style-src does
 * not govern, so no 'unsafe-inline' is needed.
 */
export function dashboardCsp(config: DashboardPublicConfig): string {
  const connect = ["'self'", origin(config.oidc.issuer), ...(config.chain ? [origin(config.chain.rpcUrl)] : [])];
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src ${[...new Set(connect)].join(" ")}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json; charset=utf-8",
  ".woff2": "font/woff2",
};

const CONFIG_PATH = "/dashboard-config.json";
const ASSETS = "/assets/";
const gzipAsync = promisify(gzip);

export interface Dashboard {
  /** The metrics/log route of a path the dashboard serves; undefined for any other path. */
  route(pathname: string): string | undefined;
  serve(pathname: string, req: IncomingMessage, res: ServerResponse): Promise<void>;
}

interface Cached {
  mtimeMs: number;
  body: Buffer;
  gzipped: Buffer;
}

export function createDashboard(settings: DashboardSettings): Dashboard {
  const csp = dashboardCsp(settings.config);
  // Files are read on first request and re-read when they change on disk, so a rebuild needs no restart.
  const cache = new Map<string, Cached>();
  const load = async (file: string): Promise<Cached | undefined> => {
    let info;
    try {
      info = await stat(file);
    } catch {
      return undefined;
    }
    if (!info.isFile()) return undefined;
    const hit = cache.get(file);
    if (hit && hit.mtimeMs === info.mtimeMs) return hit;
    const body = await readFile(file);
    const entry = { mtimeMs: info.mtimeMs, body, gzipped: await gzipAsync(body) };
    cache.set(file, entry);
    return entry;
  };

  return {
    route(pathname) {
      if (pathname === "/" || pathname === "/index.html") return "/";
      if (pathname === CONFIG_PATH) return CONFIG_PATH;
      if (pathname.startsWith(ASSETS) || pathname === "/favicon.svg") return ASSETS;
      return undefined;
    },
    async serve(pathname, req, res) {
      if (req.method !== "GET" && req.method !== "HEAD") return sendError(res, new BadRequestError("Method not allowed.", 405, { allow: "GET, HEAD" }));
      if (pathname === CONFIG_PATH) return sendJson(res, 200, settings.config);
      const relative = pathname === "/" ? "index.html" : decodeURIComponent(pathname.slice(1));
      const file = path.resolve(settings.dir, relative);
      // Nothing outside the built app, whatever the path spells (.., encoded slashes).
      if (!file.startsWith(settings.dir + path.sep)) return sendError(res, new NotFoundError());
      const entry = await load(file);
      if (!entry) {
        if (relative === "index.html") {
          return sendJson(res, 503, { errors: [{ message: "The dashboard is not built: run npm run build:dashboard." }] });
        }
        return sendError(res, new NotFoundError());
      }
      const wantsGzip = /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
      const body = wantsGzip ? entry.gzipped : entry.body;
      res.writeHead(200, {
        "content-type": TYPES[path.extname(file)] ?? "application/octet-stream",
        "content-length": body.length,
        // Vite names assets by their content; the page itself must be fetched anew.
        "cache-control": pathname.startsWith(ASSETS) ? "public, max-age=31536000, immutable" : "no-store",
        "content-security-policy": csp,
        vary: "accept-encoding",
        ...(wantsGzip ? { "content-encoding": "gzip" } : {}),
      });
      res.end(req.method === "HEAD" ? undefined : body);
    },
  };
}
