import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import type { GraphiQLOptions, Plugin } from "graphql-yoga";
import { GRAPHIQL_CSP } from "./security-headers";
import type { ServerContext } from "./request-state";

/** Where the page's files are served; none of them is under /graphql. */
export const GRAPHIQL_ASSETS_PATH = "/graphiql/";

interface Asset {
  type: string;
  body: Buffer;
  gzipped?: Promise<Buffer>;
}

export interface GraphiQL {
  /** yoga's `renderGraphiQL`: the page, which loads everything else from this server. */
  render(options: GraphiQLOptions): string;
  /** Serves a file of the page; false when `pathname` is none of them. */
  serveAsset(pathname: string, req: IncomingMessage, res: ServerResponse): boolean;
}

const gzipAsync = promisify(gzip);
const hashed = (name: string, ext: string, body: Buffer) => `${name}.${createHash("sha256").update(body).digest("hex").slice(0, 16)}.${ext}`;
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
// JSON inside a <script type="application/json"> block: nothing may close the element.
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, "\\u003c");

/**
 * GraphiQL from the npm package @graphql-yoga/render-graphiql, served by this API: no CDN, and
 * no inline script, so the page runs under a CSP without 'unsafe-inline' or 'unsafe-eval' for
 * scripts. The package renders one page with everything inline; its parts (bundle, styles,
 * Monaco's workers, favicon) become files named by their content, cacheable for good.
 *
 * The page itself executes nothing: it is a shell that loads the editor. A query runs when the
 * user sends it, as a POST carrying the headers from the editor's header pane (the Bearer
 * token), through the same authentication as any other client.
 */
export async function loadGraphiQL(): Promise<GraphiQL> {
  // 9 MB of bundled JavaScript: loaded only when GraphiQL is enabled.
  const bundle = await import("@graphql-yoga/render-graphiql/graphiql");
  const assets = new Map<string, Asset>();
  const add = (name: string, ext: string, type: string, content: string | Buffer) => {
    const body = typeof content === "string" ? Buffer.from(content, "utf8") : content;
    const file = hashed(name, ext, body);
    assets.set(`${GRAPHIQL_ASSETS_PATH}${file}`, { type, body });
    return `${GRAPHIQL_ASSETS_PATH}${file}`;
  };
  const js = "text/javascript; charset=utf-8";
  const workers = {
    editorWorkerService: add("editor.worker", "js", js, bundle.editorWorkerService),
    json: add("json.worker", "js", js, bundle.jsonWorker),
    graphql: add("graphql.worker", "js", js, bundle.graphqlWorker),
  };
  const favicon = /^data:([^;,]+);base64,(.*)$/s.exec(bundle.favicon);
  const icon = favicon ? add("favicon", "ico", favicon[1]!, Buffer.from(favicon[2]!, "base64")) : undefined;
  const css = add("graphiql", "css", "text/css; charset=utf-8", bundle.css);
  // Monaco asks for its workers by label (the package's page builds blob: URLs; files do as well).
  const environment = add(
    "monaco-environment",
    "js",
    js,
    `self.MonacoEnvironment = { globalAPI: false, getWorkerUrl: function (_moduleId, label) { return ${JSON.stringify(workers)}[label]; } };\n`,
  );
  const app = add("graphiql", "js", js, bundle.js);
  const start = add(
    "start",
    "js",
    js,
    `YogaGraphiQL.renderYogaGraphiQL(document.getElementById("root"), JSON.parse(document.getElementById("graphiql-options").textContent));\n`,
  );

  return {
    render(options) {
      const title = options.title ?? "GraphiQL";
      return [
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8" />',
        `<title>${escapeHtml(title)}</title>`,
        ...(icon ? [`<link rel="icon" href="${icon}" />`] : []),
        `<link rel="stylesheet" href="${css}" />`,
        "</head>",
        '<body id="body" class="no-focus-outline">',
        "<noscript>You need to enable JavaScript to run this app.</noscript>",
        '<div id="root"></div>',
        `<script type="application/json" id="graphiql-options">${scriptJson(options)}</script>`,
        `<script src="${environment}"></script>`,
        `<script src="${app}"></script>`,
        `<script src="${start}"></script>`,
        "</body>",
        "</html>",
        "",
      ].join("\n");
    },
    serveAsset(pathname, req, res) {
      const asset = assets.get(pathname);
      if (!asset) return false;
      const wantsGzip = /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
      const send = (body: Buffer, encoding?: string) => {
        res.writeHead(200, {
          "content-type": asset.type,
          "content-length": body.length,
          // The name changes with the content: cache for a year, never revalidate.
          "cache-control": "public, max-age=31536000, immutable",
          "content-security-policy": GRAPHIQL_CSP,
          vary: "accept-encoding",
          ...(encoding ? { "content-encoding": encoding } : {}),
        });
        res.end(req.method === "HEAD" ? undefined : body);
      };
      if (!wantsGzip) {
        send(asset.body);
        return true;
      }
      asset.gzipped ??= gzipAsync(asset.body);
      asset.gzipped.then(
        (body) => send(body, "gzip"),
        () => send(asset.body),
      );
      return true;
    },
  };
}

/** The page is answered by yoga's GraphiQL plugin; this gives it the CSP it runs under. */
export function useGraphiQLPageHeaders(): Plugin<Record<string, unknown>, ServerContext> {
  return {
    onResponse({ response }) {
      if (response.headers.get("content-type")?.startsWith("text/html")) response.headers.set("content-security-policy", GRAPHIQL_CSP);
    },
  };
}
