import { expect } from "chai";
import { startHarness, type ApiHarness } from "./fixtures";

// Hosts of the CDNs GraphiQL pages usually load from; none may be named anywhere.
const CDN_HOSTS = /unpkg\.com|jsdelivr\.net|cdnjs\.cloudflare\.com|esm\.sh|skypack\.dev|googleapis\.com|gstatic\.com/;
// An absolute URL in a position where a browser would load it.
const LOADED_URL = [
  /\b(?:src|href|action|poster|data)\s*=\s*["']?https?:\/\//i,
  /url\(\s*["']?https?:\/\//i,
  /@import\s+(?:url\()?\s*["']?https?:\/\//i,
  /\b(?:fetch|importScripts|import|Worker|SharedWorker|EventSource|WebSocket|sendBeacon)\s*\(\s*["'`]https?:\/\//,
];
const URLS = /https?:\/\/[^\s"'`)<>\\]+/g;

function directives(csp: string): Map<string, string[]> {
  return new Map(csp.split(";").map((d) => d.trim().split(/\s+/)).filter((d) => d[0]).map(([name, ...values]) => [name!, values]));
}

describe("api: GraphiQL, served offline", function () {
  let h: ApiHarness;
  let page: Response;
  let html: string;
  let origin: string;
  before(async () => {
    h = await startHarness({ GRAPHIQL: "true", INTROSPECTION: "true" });
    origin = new URL(h.api.url).origin;
    page = await fetch(`${h.api.url}/graphql`, { headers: { accept: "text/html" } });
    html = await page.text();
  });
  after(async () => h?.close());

  const references = () => [...html.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);

  it("the page and every file it references come from the API itself", async function () {
    expect(page.status).to.equal(200);
    expect(page.headers.get("content-type")).to.match(/^text\/html/);
    expect(references().length).to.be.greaterThanOrEqual(4);
    for (const ref of references()) expect(new URL(ref, h.api.url).origin, ref).to.equal(origin);
    // Nothing external in the page at all, not even as text.
    expect((html.match(URLS) ?? []).filter((u) => !u.startsWith(origin))).to.deep.equal([]);
  });

  it("no file names a CDN or loads an external URL; HTML and CSS name none at all", async function () {
    const seen = new Set<string>();
    const queue = references();
    while (queue.length > 0) {
      const ref = queue.shift()!;
      if (seen.has(ref)) continue;
      seen.add(ref);
      const res = await fetch(new URL(ref, h.api.url));
      expect(res.status, ref).to.equal(200);
      const type = res.headers.get("content-type") ?? "";
      if (type.startsWith("image/")) continue;
      const text = await res.text();
      expect(text, ref).to.not.match(CDN_HOSTS);
      for (const pattern of LOADED_URL) expect(pattern.test(text), `${ref}: ${pattern} ${text.match(pattern)?.[0]}`).to.equal(false);
      const external = (text.match(URLS) ?? []).filter((u) => !u.startsWith(origin));
      // The bundled libraries name URLs as text (XML namespaces, JSON-schema ids, links in their
      // messages); stylesheets and the page name none.
      if (type.startsWith("text/css")) expect(external, ref).to.deep.equal([]);
      // Scripts that reference further files (Monaco's workers) by path.
      for (const m of text.matchAll(/"(\/graphiql\/[^"]+)"/g)) queue.push(m[1]!);
    }
    // The bundle, its styles, Monaco's environment, three workers, the start script, the icon.
    expect(seen.size).to.equal(8);
  });

  it("runs under a CSP that allows what GraphiQL needs and nothing external", async function () {
    const csp = directives(page.headers.get("content-security-policy")!);
    expect(csp.get("default-src")).to.deep.equal(["'none'"]);
    // No inline script and no eval: the page's scripts are files of this origin.
    expect(csp.get("script-src")).to.deep.equal(["'self'"]);
    expect(csp.get("worker-src")).to.include("'self'");
    expect(csp.get("font-src")).to.include("data:");
    expect(csp.get("style-src")).to.include("'self'");
    expect(csp.get("connect-src")).to.deep.equal(["'self'"]);
    expect(csp.get("frame-ancestors")).to.deep.equal(["'none'"]);
    for (const [name, values] of csp) expect(values.join(" "), name).to.not.match(/https?:|\*/);
    // Every script the page loads is a file, which script-src 'self' allows.
    for (const tag of html.match(/<script\b[^>]*>/g) ?? []) expect(tag).to.match(/\bsrc="\/graphiql\/|type="application\/json"/);
  });

  it("its files are cacheable for good (names change with content); API answers stay no-store", async function () {
    for (const ref of references()) {
      const res = await fetch(new URL(ref, h.api.url));
      expect(res.headers.get("cache-control"), ref).to.equal("public, max-age=31536000, immutable");
      expect(ref).to.match(/\.[0-9a-f]{16}\.(js|css|ico)$/);
      await res.arrayBuffer();
    }
    const gzipped = await fetch(new URL(references().find((r) => r.endsWith(".css"))!, h.api.url), { headers: { "accept-encoding": "gzip" } });
    expect(gzipped.headers.get("content-encoding")).to.equal("gzip");
    expect(await gzipped.text()).to.match(/graphiql/);
    expect(page.headers.get("cache-control")).to.equal("no-store");
    const api = await h.gql(await h.token("acme", "viewer"), "{ viewer { subject } }");
    expect(api.headers.get("cache-control")).to.equal("no-store");
    expect(api.headers.get("content-security-policy")).to.contain("default-src 'none'");
    expect((await fetch(`${h.api.url}/graphiql/nothing.0123456789abcdef.js`)).status).to.equal(404);
  });

  it("the page renders nothing executable without a token: a query in its URL does not run", async function () {
    const before = await h.db.pool.query("SELECT (SELECT count(*) FROM rate_plans)::int AS plans, (SELECT count(*) FROM audit_log)::int AS audit");
    const params = new URLSearchParams({ query: 'mutation { createPlan(input: { name: "from-the-page" }) { id } }' });
    for (const accept of ["text/html", "text/html,application/xhtml+xml,*/*;q=0.8"]) {
      const res = await fetch(`${h.api.url}/graphql?${params}`, { headers: { accept } });
      const body = await res.text();
      expect(res.status).to.equal(200);
      // The same shell as without a query: no result, no data, no inline code.
      expect(body).to.equal(html);
      expect(body).to.not.match(/createPlan|from-the-page|"data"|acme/);
    }
    const after = await h.db.pool.query("SELECT (SELECT count(*) FROM rate_plans)::int AS plans, (SELECT count(*) FROM audit_log)::int AS audit");
    expect(after.rows[0]).to.deep.equal(before.rows[0]);
  });

  it("a query sent from the page carries the token from its header pane, through authentication", async function () {
    // What GraphiQL's fetcher sends: the header pane opens with an Authorization header to fill in.
    const options = JSON.parse(/<script type="application\/json" id="graphiql-options">(.*?)<\/script>/s.exec(html)![1]!) as { headers: string; shouldPersistHeaders: boolean };
    expect(Object.keys(JSON.parse(options.headers) as object)).to.deep.equal(["Authorization"]);
    expect(options.shouldPersistHeaders).to.equal(false);
    const send = (headers: Record<string, string>) =>
      fetch(`${h.api.url}/graphql`, {
        method: "POST",
        headers: { accept: "application/graphql-response+json, application/json, multipart/mixed", "content-type": "application/json", ...headers },
        body: JSON.stringify({ query: "query Tour { viewer { subject } }", operationName: "Tour" }),
      });
    const placeholder = await send(JSON.parse(options.headers) as Record<string, string>);
    expect(placeholder.status).to.equal(401);
    const pasted = await send({ Authorization: `Bearer ${await h.token("acme", "viewer")}` });
    expect(pasted.status).to.equal(200);
    expect(await pasted.json()).to.deep.equal({ data: { viewer: { subject: "acme-viewer" } } });
  });
});

describe("api: GraphiQL off", function () {
  let h: ApiHarness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => h?.close());

  it("serves no page and no files", async function () {
    const res = await fetch(`${h.api.url}/graphql`, { headers: { accept: "text/html" } });
    expect(res.status).to.be.within(400, 499);
    expect(res.headers.get("content-type")).to.match(/^application\/json/);
    expect((await fetch(`${h.api.url}/graphiql/graphiql.0123456789abcdef.js`)).status).to.equal(404);
  });
});
