import { listenSide, type SideListener } from "./listen";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

// A Host header's host: a DNS name, an IPv4 address or a bracketed IPv6 address (then the port).
const HOST = /^(?<host>[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/**
 * The answer of the plain-HTTP listener to every request: 301 to the same path on the API's https
 * port, nothing else — no GraphQL, no probes, no body read. The host is the request's own (a
 * client can only send itself elsewhere); a missing or malformed Host is 400.
 */
export function redirectToHttps(httpsPort: number): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const host = HOST.exec(String(req.headers.host ?? ""))?.groups?.host;
    const path = (req.url ?? "/").startsWith("/") ? (req.url ?? "/") : "/";
    res.setHeader("Connection", "close");
    if (!host) {
      res.writeHead(400, { "content-type": "text/plain; charset=utf-8", "content-length": 12 }).end("Bad request.");
      return;
    }
    const location = `https://${host}${httpsPort === 443 ? "" : `:${httpsPort}`}${path}`;
    res.writeHead(301, { location, "content-length": 0 }).end();
    // Whatever body the client sends is never read: the socket closes after the answer.
    req.resume();
  };
}

export type RedirectListener = SideListener;

export async function listenRedirect(options: { host: string; port: number; httpsPort: number }): Promise<RedirectListener> {
  const server = createServer(redirectToHttps(options.httpsPort));
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  return listenSide(server, options.port, options.host);
}
