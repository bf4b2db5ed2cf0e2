/**
 * Endpoint URLs carry secrets: basic-auth credentials (`https://user:pass@host`), API keys in the
 * path (`/v3/<key>`, `/v2/<key>`) or the query (`?apikey=`), a database password. Logs and error
 * reports name the variable (RPC_URL, DATABASE_URL) and show the endpoint only in this redacted
 * form: enough to tell which host is failing, nothing to authenticate with.
 */

const MASK = "***";

/**
 * The URL without its secrets: scheme, host and port always; for a database URL also the user and
 * the database name (neither authenticates); the password, an RPC URL's user, path and query never.
 */
export function redactUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return MASK;
  }
  const database = /^postgres(ql)?:$/.test(u.protocol);
  let user = "";
  if (database && u.username) user = `${decodeURIComponent(u.username)}${u.password ? `:${MASK}` : ""}@`;
  else if (u.username || u.password) user = `${MASK}@`;
  const path = database ? u.pathname : u.pathname === "/" || u.pathname === "" ? "" : `/${MASK}`;
  const query = u.search ? `?${MASK}` : "";
  return `${u.protocol}//${user}${u.host}${path}${query}`;
}

/** The parts of a URL that must never appear in a log line (the URL itself shows redacted). */
function secretsOf(raw: string): { secret: string; shown: string }[] {
  const whole = new Set<string>([raw]);
  const out = new Set<string>();
  try {
    const u = new URL(raw);
    if (u.password) {
      out.add(u.password);
      out.add(decodeURIComponent(u.password));
    }
    if (!/^postgres(ql)?:$/.test(u.protocol)) {
      if (u.username) out.add(u.username);
      // API keys live in path segments and query values; short segments ("v3", "rpc") are not secrets
      // and would mangle unrelated words.
      for (const seg of u.pathname.split("/")) if (seg.length >= 8) out.add(seg);
    }
    for (const [, v] of u.searchParams) if (v.length >= 4) out.add(v);
    whole.add(u.href);
  } catch {
    // not a URL: only the raw text itself is known to be secret
  }
  return [
    ...[...whole].map((secret) => ({ secret, shown: redactUrl(raw) })),
    ...[...out].filter((s) => s.length > 0 && !whole.has(s)).sort((a, b) => b.length - a.length).map((secret) => ({ secret, shown: MASK })),
  ];
}

/** `text` with every secret part of the given URLs masked (for error messages that quote a URL or its parts). */
export function redactSecrets(text: string, urls: readonly (string | undefined)[]): string {
  let out = text;
  for (const url of urls) {
    if (!url) continue;
    for (const { secret, shown } of secretsOf(url)) out = out.split(secret).join(shown);
  }
  return out;
}
