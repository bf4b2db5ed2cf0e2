import type { ServerResponse } from "node:http";

/** The API answers JSON only: its documents may load and run nothing. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/**
 * The GraphiQL page and its workers: scripts and styles from this origin only (no inline script,
 * no eval, no CDN). Monaco and React set inline styles and the bundled fonts and icons are data:
 * URLs. Monaco's workers are files of this origin (http/graphiql.ts), not the blob: URLs of the
 * package's own page, so worker-src needs nothing more; queries go to this origin.
 */
export const GRAPHIQL_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "worker-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "font-src 'self' data:",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** Headers every response carries; a stage serving something else overrides CSP and caching. */
export function setSecurityHeaders(res: ServerResponse): void {
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("X-Frame-Options", "DENY");
  res.setHeader("Referrer-Policy", "no-referrer");
  res.setHeader("Cross-Origin-Resource-Policy", "same-origin");
  res.setHeader("Cache-Control", "no-store");
  // Browsers ignore HSTS over plain HTTP; sent always so a TLS-terminating proxy passes it on.
  res.setHeader("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
  res.setHeader("Content-Security-Policy", API_CSP);
}
