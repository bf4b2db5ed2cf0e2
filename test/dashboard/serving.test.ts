import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { ConfigError } from "../../api/config";
import { createDashboard, dashboardCsp, parseDashboardConfig, type DashboardSettings } from "../../api/http/dashboard";

const api = { oidc: { issuer: "https://idp.example.com", audience: "https://api.example.com", platformRolePrefix: "platform:" } };

describe("dashboard serving (api/http/dashboard.ts)", function () {
  let dir: string;
  let server: Server;
  let base: string;
  let settings: DashboardSettings;

  before(async function () {
    dir = await mkdtemp(path.join(tmpdir(), "meterline-dashboard-dist-"));
    await mkdir(path.join(dir, "assets"));
    await writeFile(path.join(dir, "index.html"), "<!doctype html><title>Meterline</title>");
    await writeFile(path.join(dir, "assets", "index-abc.js"), "console.log('app');".repeat(50));
    await writeFile(path.join(dir, "..", "secret.txt"), "outside");
    settings = parseDashboardConfig({ DASHBOARD_DIR: dir, DASHBOARD_RPC_URL: "http://127.0.0.1:8545", DASHBOARD_METER_ADDRESS: `0x${"ab".repeat(20)}` }, api)!;
    const dashboard = createDashboard(settings);
    server = createServer((req, res) => {
      const { pathname } = new URL(req.url ?? "/", "http://x.invalid");
      if (dashboard.route(pathname) === undefined) {
        res.writeHead(404).end();
        return;
      }
      void dashboard.serve(pathname, req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async function () {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
    await rm(path.join(dir, "..", "secret.txt"), { force: true });
  });

  it("parses its settings once, naming a bad variable in one line; DASHBOARD=false turns it off", function () {
    expect(() => parseDashboardConfig({ DASHBOARD_METER_ADDRESS: "0x12" }, api)).to.throw(ConfigError, /^DASHBOARD_METER_ADDRESS: expected a 0x address/);
    expect(() => parseDashboardConfig({ DASHBOARD_RPC_URL: "not a url" }, api)).to.throw(ConfigError, /^DASHBOARD_RPC_URL: /);
    expect(() => parseDashboardConfig({ DASHBOARD_CLIENT_ID: "a b" }, api)).to.throw(ConfigError, /^DASHBOARD_CLIENT_ID: /);
    expect(parseDashboardConfig({ DASHBOARD: "false" }, api)).to.equal(undefined);
    const none = parseDashboardConfig({}, api)!;
    expect(none.config.chain).to.equal(null);
    expect(none.config.oidc).to.deep.equal({ issuer: api.oidc.issuer, clientId: "meterline-dashboard", audience: api.oidc.audience, scope: "openid api" });
  });

  it("lets the page talk to itself, the IdP and the RPC only, with no inline script or eval", function () {
    const csp = dashboardCsp(settings.config);
    expect(csp).to.contain("script-src 'self';").and.to.contain("connect-src 'self' https://idp.example.com http://127.0.0.1:8545;");
    expect(csp).to.not.match(/unsafe-(inline|eval)/);
    expect(csp).to.contain("frame-ancestors 'none'");
  });

  it("serves the page uncached, hashed assets for good (gzipped when asked) and the public settings", async function () {
    const page = await fetch(`${base}/`);
    expect(page.status).to.equal(200);
    expect(page.headers.get("cache-control")).to.equal("no-store");
    expect(page.headers.get("content-type")).to.equal("text/html; charset=utf-8");
    const asset = await fetch(`${base}/assets/index-abc.js`, { headers: { "accept-encoding": "gzip" } });
    expect(asset.headers.get("cache-control")).to.equal("public, max-age=31536000, immutable");
    expect(asset.headers.get("content-encoding")).to.equal("gzip");
    // fetch undoes the gzip it was sent.
    expect(await asset.text()).to.contain("console.log('app')");
    const config = (await (await fetch(`${base}/dashboard-config.json`)).json()) as Record<string, unknown>;
    expect(config).to.deep.include({ graphqlPath: "/graphql", platformRolePrefix: "platform:" });
    expect(config.webhookEventTypes).to.include("invoice.finalized");
    expect(JSON.stringify(config)).to.not.match(/secret|password|key/i);
  });

  it("serves nothing outside the build, refuses writes and answers 404 for unknown assets", async function () {
    for (const p of ["/assets/../../secret.txt", "/assets/%2e%2e/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt", "/assets/nope.js"]) {
      const res = await fetch(`${base}${p}`);
      expect(res.status, p).to.equal(404);
      expect(await res.text(), p).to.not.contain("outside");
    }
    const post = await fetch(`${base}/`, { method: "POST", body: "x" });
    expect(post.status).to.equal(405);
    expect(post.headers.get("allow")).to.equal("GET, HEAD");
  });

  it("says how to build the app when it is not built", async function () {
    const empty = await mkdtemp(path.join(tmpdir(), "meterline-dashboard-empty-"));
    const d = createDashboard({ ...settings, dir: empty });
    const s = createServer((req, res) => void d.serve(new URL(req.url ?? "/", "http://x.invalid").pathname, req, res));
    await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
    const res = await fetch(`http://127.0.0.1:${(s.address() as AddressInfo).port}/`);
    expect(res.status).to.equal(503);
    expect(await res.text()).to.contain("npm run build:dashboard");
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
    await rm(empty, { recursive: true, force: true });
  });
});
