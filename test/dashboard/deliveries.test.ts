import { existsSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { expect } from "chai";
import pino from "pino";
import type { Page } from "playwright-core";
import { startApi, type RunningApi } from "../../api";
import { parseApiConfig } from "../../api/config";
import { parseDashboardConfig } from "../../api/http/dashboard";
import { withTransaction } from "../../db/connection";
import { startLocalIdp, type LocalIdp } from "../../stack/local-idp";
import { DEFAULT_DELIVERY_OPTIONS, deliverDueOnce, type DeliveryOptions } from "../../webhooks/delivery";
import { createEndpoint } from "../../webhooks/endpoints";
import { enqueueEvent } from "../../webhooks/outbox";
import { keyRingFromEnv } from "../../webhooks/secrets";
import { seed } from "../api/fixtures";
import { createTestDatabase, openAsRole, type TestDatabase } from "../helpers/database";
import { launchChromium, type HeadlessChromium } from "./browser";
import { goTo, signIn } from "./tour";

const DIST = path.join(__dirname, "..", "..", "dashboard", "dist", "index.html");
const AUDIENCE = "https://api.meterline.test";
const PASSWORD = "deliveries-test-password";
const ENCRYPTION_KEY = Buffer.alloc(32, 0x22).toString("base64");

/**
 * The webhooks page's delivery log in Chromium: the API with the dashboard (as meterline_api) on a
 * test database, the local IdP's login page, a real receiver, and the real delivery code turning a
 * failed delivery into a dead letter that the operator redelivers from the page.
 */
describe("dashboard: webhook delivery log and redelivery in Chromium", function () {
  this.timeout(300_000);
  let db: TestDatabase;
  let idp: LocalIdp;
  let api: RunningApi;
  let browser: HeadlessChromium;
  let page: Page;
  let base: string;
  let tenantIds: Record<"acme" | "globex", string>;
  const receiver = { status: 500, received: [] as string[] };
  let server: http.Server;
  let hookUrl: string;
  const errors: string[] = [];
  const options: DeliveryOptions = {
    ...DEFAULT_DELIVERY_OPTIONS,
    keyRing: keyRingFromEnv({ WEBHOOK_ENCRYPTION_KEY: ENCRYPTION_KEY })!,
    destinations: { allowLoopbackHttp: true },
    maxAttempts: 1,
  };

  before(async function () {
    if (!existsSync(DIST)) throw new Error("dashboard/dist is missing: run npm run build:dashboard before the tests");
    server = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        receiver.received.push(String(req.headers["meterline-delivery"]));
        res.statusCode = receiver.status;
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
    db = await createTestDatabase();
    tenantIds = await seed(db);
    idp = await startLocalIdp({
      clients: [],
      users: [
        { username: "acme-operator", password: PASSWORD, tenant: "acme", roles: ["operator"] },
        { username: "globex-operator", password: PASSWORD, tenant: "globex", roles: ["operator"] },
      ],
      audience: AUDIENCE,
    });
    const config = parseApiConfig({
      NODE_ENV: "test",
      HOST: "127.0.0.1",
      PORT: "0",
      OIDC_ISSUER: idp.issuer,
      OIDC_AUDIENCE: AUDIENCE,
      WEBHOOK_ENCRYPTION_KEY: ENCRYPTION_KEY,
      WEBHOOK_ALLOW_LOOPBACK_HTTP: "true",
    });
    const dashboard = parseDashboardConfig({}, config)!;
    api = await startApi(config, { db: await openAsRole(db, "meterline_api"), logger: pino({ level: "silent" }), dashboard });
    base = `${api.url.replace(/\/$/, "")}/`;
    idp.addPublicClient({ clientId: dashboard.config.oidc.clientId, redirectUris: [base], postLogoutRedirectUris: [base, `${base}?signed-out`] });
    browser = await launchChromium();
    page = await browser.context.newPage();
    page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  });

  after(async function () {
    await browser?.close();
    await api?.close();
    await idp?.close();
    await db?.drop();
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  it("shows an empty log, then a dead letter with its failure, redelivers it and shows it delivered", async function () {
    await signIn(page, base, "acme-operator", PASSWORD);
    await goTo(page, "Webhooks", "Webhooks");
    await page.getByRole("heading", { level: 2, name: "Delivery log" }).waitFor();
    await page.getByText("No deliveries yet").waitFor();
    // An endpoint for acme, created on the page; one for globex, which acme must never see.
    await page.getByLabel("URL (public https)").fill(`${hookUrl}/acme`);
    await page.getByRole("button", { name: "Create endpoint" }).click();
    await page.getByTestId("webhook-secret").waitFor();
    await page.getByRole("button", { name: "I have stored it" }).click();
    await createEndpoint(db.pool, options.keyRing, { tenantId: tenantIds.globex, url: `${hookUrl}/globex`, eventTypes: ["invoice.finalized"] }, options.destinations);
    for (const t of ["acme", "globex"] as const) {
      await withTransaction(db.pool, (c) => enqueueEvent(c, tenantIds[t], "invoice.finalized", `${t}-browser-1`, { invoice: 1 }));
    }
    // The receiver answers 500: one attempt, and each delivery is a dead letter.
    expect((await deliverDueOnce(db, options)).map((o) => o.status)).to.deep.equal(["dead", "dead"]);

    await page.getByRole("button", { name: "Refresh" }).click();
    const rows = page.getByTestId("deliveries").locator("tbody tr");
    await rows.first().waitFor();
    expect(await rows.count()).to.equal(1);
    const row = rows.first();
    expect(await row.getAttribute("data-status")).to.equal("DEAD");
    const deliveryId = (await row.getAttribute("data-delivery"))!;
    const text = await row.innerText();
    expect(text).to.contain("invoice.finalized").and.contain("dead letter").and.contain("HTTP 500").and.contain(`${hookUrl}/acme`);
    expect(text).to.not.contain("globex");

    // Filters: no delivered ones yet; dead letters of this endpoint: this one.
    await page.getByLabel("Delivery status").selectOption("DELIVERED");
    await page.getByText("No deliveries match these filters.").waitFor();
    await page.getByLabel("Delivery status").selectOption("DEAD");
    await rows.first().waitFor();

    // Redeliver from the page: queued again under the same id, and no longer offered.
    await page.getByRole("button", { name: `Redeliver invoice.finalized delivery ${deliveryId}` }).click();
    await page.getByText(`Delivery ${deliveryId} to ${hookUrl}/acme is queued again under the same id`).waitFor();
    await page.getByLabel("Delivery status").selectOption("");
    await page.locator(`tr[data-delivery="${deliveryId}"][data-status="PENDING"]`).waitFor();
    expect(await page.getByRole("button", { name: /^Redeliver / }).count()).to.equal(0);

    // The receiver is fixed; the worker sends it under its id; the log shows it delivered.
    receiver.status = 200;
    expect((await deliverDueOnce(db, options)).map((o) => [o.id, o.status])).to.deep.equal([[deliveryId, "delivered"]]);
    expect(receiver.received.filter((id) => id === deliveryId)).to.have.length(2);
    await page.getByRole("button", { name: "Refresh" }).click();
    await page.locator(`tr[data-delivery="${deliveryId}"][data-status="DELIVERED"]`).waitFor();
    expect(await page.locator(`tr[data-delivery="${deliveryId}"]`).innerText()).to.contain("HTTP 200");
    // globex's dead letter was not touched.
    const globex = await db.pool.query<{ status: string }>("SELECT status FROM webhook_deliveries WHERE tenant_id = $1", [tenantIds.globex]);
    expect(globex.rows.map((r) => r.status)).to.deep.equal(["dead"]);
  });

  it("shows the API's refusal when a dead letter was already redelivered elsewhere", async function () {
    receiver.status = 500;
    await withTransaction(db.pool, (c) => enqueueEvent(c, tenantIds.acme, "invoice.finalized", "acme-browser-2", { invoice: 2 }));
    expect((await deliverDueOnce(db, options)).map((o) => o.status)).to.deep.equal(["dead"]);
    await page.getByRole("button", { name: "Refresh" }).click();
    const dead = page.locator("tr[data-status=DEAD]");
    await dead.first().waitFor();
    const deliveryId = (await dead.first().getAttribute("data-delivery"))!;
    // Someone else (another operator's tab) re-queues it first.
    await db.pool.query("UPDATE webhook_deliveries SET status = 'pending', attempts = 0 WHERE id = $1", [deliveryId]);
    await page.getByRole("button", { name: `Redeliver invoice.finalized delivery ${deliveryId}` }).click();
    await page.getByRole("alert").filter({ hasText: "The API refused the redelivery" }).filter({ hasText: "is pending" }).waitFor();
  });

  it("ran without uncaught errors", function () {
    expect(errors).to.deep.equal([]);
  });
});
