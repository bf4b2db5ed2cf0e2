import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * Serves a Node request through a fetch-style handler (yoga.fetch). We read the body ourselves,
 * which enforces the byte limit on what is actually received, and stream the response back
 * (SSE included). Used instead of yoga's own Node adapter, whose request handling stalls on
 * Node 20 with the installed @whatwg-node/server.
 */
export class BodyTooLarge extends Error {
  override name = "BodyTooLarge";
}

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) throw new BodyTooLarge();
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

type FetchHandler = (url: string, init: RequestInit) => Promise<Response> | Response;

export async function bridge(req: IncomingMessage, res: ServerResponse, body: Buffer | undefined, handler: FetchHandler): Promise<void> {
  const abort = new AbortController();
  res.on("close", () => abort.abort());
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name.startsWith(":")) continue;
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else headers.set(name, value);
  }
  // Under plain application/json, GraphQL-over-HTTP answers parse and validation errors with
  // 200; ask yoga for the graphql-response+json semantics (400 for a bad document) and hand the
  // client the media type it asked for.
  const accept = headers.get("accept") ?? "";
  const legacyJson = !accept.includes("text/event-stream") && !accept.includes("application/graphql-response+json");
  if (legacyJson) headers.set("accept", "application/graphql-response+json");
  const response = await handler(`http://${req.headers.host ?? "api"}${req.url ?? "/"}`, {
    method: req.method ?? "GET",
    headers,
    ...(body && body.length > 0 && req.method !== "GET" && req.method !== "HEAD" ? { body: new Uint8Array(body) } : {}),
    signal: abort.signal,
  });
  const out: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    out[name] = value;
  });
  if (legacyJson && out["content-type"]?.startsWith("application/graphql-response+json")) {
    out["content-type"] = "application/json; charset=utf-8";
  }
  // Decided by the request: the response's media type is not always set on its headers yet.
  if (!response.body || !accept.includes("text/event-stream")) {
    // A whole JSON answer goes out in one write with its length (no chunked framing).
    const payload = response.body ? Buffer.from(await response.arrayBuffer()) : Buffer.alloc(0);
    out["content-length"] = String(payload.length);
    res.writeHead(response.status, out);
    res.end(payload);
    return;
  }
  res.writeHead(response.status, out);
  const reader = response.body.getReader();
  abort.signal.addEventListener("abort", () => void reader.cancel().catch(() => undefined));
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) await new Promise<void>((resolve) => res.once("drain", resolve).once("close", resolve));
    }
  } catch {
    // The client went away mid-stream; nothing left to send.
  } finally {
    res.end();
  }
}
