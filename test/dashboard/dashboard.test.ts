import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import type { Page } from "playwright-core";
import { launchChromium, type HeadlessChromium } from "./browser";
import { startDashboardStack, type DashboardStack } from "./stack";
import { expectAllChecksShown, goTo, openFinalizedInvoice, seeUsage, shownReport, signIn, signOut, verifyWithKey } from "./tour";

const DIST = path.join(__dirname, "..", "..", "dashboard", "dist", "index.html");

/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) against a real
 * `npm start` stack on free ports: the login page of the local IdP, every page with the demo's
 * data, the in-browser verifier, CSV downloads, webhooks, the audit log, the platform tenant
 * switcher, and the offline GraphiQL page.
 */
describe("dashboard in Chromium (npm start, free ports)", function () {
  this.timeout(900_000);
  let home: string;
  let stack: DashboardStack;
  let browser: HeadlessChromium;
  let page: Page;
  const errors: string[] = [];

  before(async function () {
    if (!existsSync(DIST)) throw new Error("dashboard/dist is missing: run npm run build:dashboard before the tests");
    browser = await launchChromium();
    home = await mkdtemp(path.join(tmpdir(), "meterline-dashboard-"));
    stack = await startDashboardStack(home);
    page = await browser.context.newPage();
    // A CSP violation or an uncaught error in the app fails the suite at the end.
    page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error" && /Content Security Policy|Refused to/.test(m.text())) errors.push(m.text());
    });
  });

  after(async function () {
    await browser?.close();
    await stack?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it("is served at / with the API's security headers, a CSP of its own and its settings", async function () {
    const res = await fetch(stack.dashboard);
    expect(res.status).to.equal(200);
    expect(res.headers.get("x-content-type-options")).to.equal("nosniff");
    expect(res.headers.get("x-frame-options")).to.equal("DENY");
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).to.contain("script-src 'self'").and.not.contain("unsafe-inline").and.not.contain("unsafe-eval");
    expect(csp).to.contain(`connect-src 'self' ${stack.issuer} ${stack.rpc}`);
    const config = (await (await fetch(new URL("/dashboard-config.json", stack.dashboard))).json()) as { oidc: { issuer: string }; chain: { rpcUrl: string; meter: string; anchor: string | null } };
    expect(config.oidc.issuer).to.equal(stack.issuer);
    expect(config.chain.rpcUrl).to.equal(stack.rpc);
    expect(config.chain.meter).to.match(/^0x[0-9a-fA-F]{40}$/);
    // The stack's InvoiceAnchor, the one trust anchor for "anchored" (npm start deploys it).
    const deployed = JSON.parse(await readFile(path.join(home, "stack.json"), "utf8")) as { anchor?: string };
    expect(deployed.anchor, "stack.json names the InvoiceAnchor").to.match(/^0x[0-9a-fA-F]{40}$/);
    expect(config.chain.anchor?.toLowerCase()).to.equal(deployed.anchor!.toLowerCase());
    // GraphQL stays where it was; nothing else of the app's is reachable outside its files.
    expect((await fetch(stack.graphql, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status).to.equal(401);
    expect((await fetch(new URL("/assets/../../package.json", stack.dashboard))).status).to.equal(404);
  });

  it("refuses a wrong password on the IdP's login page, then signs in as acme-admin (token in memory only)", async function () {
    await page.goto(stack.dashboard);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(/\/interaction\//);
    await page.getByLabel("Username").fill("acme-admin");
    await page.getByLabel("Password").fill("not-the-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "Wrong username or password." }).waitFor();
    await signIn(page, stack.dashboard, "acme-admin", stack.password);
    await page.getByText("Tenant: acme").waitFor();
    const stored = await page.evaluate(() => JSON.stringify({ ...window.localStorage }) + JSON.stringify({ ...window.sessionStorage }));
    expect(stored).to.not.match(/eyJ[\w-]+\.eyJ/); // no JWT anywhere in web storage
  });

  it("shows usage per meter in the tenant's time zone and updates live over SSE", async function () {
    expect(await seeUsage(page)).to.be.greaterThan(0);
    await page.getByText("Europe/Berlin").first().waitFor();
    await page.getByText(/Live: \d+ new records/).waitFor({ timeout: 60_000 });
    // An impossible range is named, not queried.
    const to = await page.getByLabel("To", { exact: true }).inputValue();
    const from = await page.getByLabel("From", { exact: true }).inputValue();
    await page.getByLabel("From", { exact: true }).fill(`${Number(to.slice(0, 4)) + 1}${to.slice(4)}`);
    await page.getByRole("alert").filter({ hasText: "The start date is after the end date." }).waitFor();
    await page.getByLabel("From", { exact: true }).fill(from);
    await page.getByRole("radio", { name: "day" }).check();
    await page.getByTestId("usage-table").getByText("per day").waitFor();
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download usage records (CSV)" }).click()]);
    const csv = await readFile((await download.path())!, "utf8");
    const lines = csv.trim().split("\r\n");
    expect(lines[0]).to.equal("identity,meter,period_start,period_end,quantity,reporter,sequence,ref,block_time,block_number,tx_hash,log_index");
    expect(lines.length).to.be.greaterThan(1);
  });

  it("shows quotas as gauges with their status", async function () {
    await goTo(page, "Quotas", "Quotas");
    const quotas = page.getByTestId("quota");
    await quotas.first().waitFor();
    expect(await quotas.count()).to.equal(2);
    await expect(await quotas.first().getByRole("img").getAttribute("aria-label")).to.match(/% of the limit, (OK|WARNING|EXCEEDED)$/);
  });

  it("verifies a finalized invoice in the browser against the chain and catches a tampered copy", async function () {
    await openFinalizedInvoice(page);
    const lines = page.getByTestId("invoice-lines").locator("tbody tr");
    expect(await lines.count()).to.be.greaterThan(0);
    // Cited records link to their transaction, read from the chain.
    await page.getByText(/^\d+ records$/).first().click();
    const tx = page.getByRole("link", { name: /^transaction 0x/ }).first();
    const txHash = (await tx.getAttribute("aria-label"))!.replace("transaction ", "");
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download lines (CSV)" }).click()]);
    expect((await readFile((await download.path())!, "utf8")).split("\r\n")[0]).to.equal("line,kind,meter_id,description,aggregation,quantity,amount_minor,currency,records_cited");

    // The name key is the tenant's own (the platform hands it over once): a password field, empty
    // until the user types it. A wrong key resolves no tenant: the parties check says which key to check.
    const nameKey = page.getByLabel("Your name key");
    expect(await nameKey.getAttribute("type")).to.equal("password");
    expect(await nameKey.inputValue()).to.equal("");
    await page.getByText("your name key, from your own records — the platform's page should not supply it", { exact: false }).first().waitFor();
    const wrong = await verifyWithKey(page, "0x" + "11".repeat(32));
    expectAllChecksShown(wrong);
    expect(wrong.verdict).to.match(/: NOT VERIFIED$/);
    expect(wrong.checks.parties).to.equal("fail");
    expect(await page.getByTestId("failed-checks").innerText()).to.contain("parties");
    expect(await page.getByTestId("verify-report").locator("tr[data-check=parties]").innerText()).to.match(/no tenant is registered .* under/);
    expect(await page.getByTestId("name-key-advice").innerText()).to.contain("check that it is the name key your platform gave you");

    // The genuine invoice with acme's key: VERIFIED, every check passed. Billing anchors the
    // invoice shortly after finalizing it, so until then only the anchored check fails: retry.
    const key = (await readFile(path.join(home, "name-keys", "acme.key"), "utf8")).trim();
    let genuine = await verifyWithKey(page, key);
    for (const deadline = Date.now() + 120_000; genuine.verdict.endsWith("NOT VERIFIED") && Date.now() < deadline; ) {
      const failed = Object.keys(genuine.checks).filter((id) => genuine.checks[id] === "fail");
      expect(failed, `only the anchor may be pending: ${JSON.stringify(genuine.checks)}`).to.deep.equal(["anchored"]);
      await page.waitForTimeout(5_000);
      genuine = await verifyWithKey(page, key);
    }
    expectAllChecksShown(genuine);
    console.log(`      verifier on the genuine invoice: ${genuine.verdict} ${JSON.stringify(genuine.checks)}`);
    expect(genuine.verdict).to.match(/^invoice #\d+: VERIFIED$/);
    for (const id of ["document", "parties", "anchored", "chain", "plan", "records", "billed-once", "adjustments", "amounts"]) expect(genuine.checks[id], id).to.equal("pass");
    expect(genuine.checks.complete).to.be.oneOf(["pass", "skipped"]);
    // The invoice's anchor status is the verifier's answer, shown with the invoice's facts.
    expect(await page.getByTestId("anchor-status").innerText()).to.match(/^PASS on chain: /);
    // The key never left the page: not in web storage, and the input is the only place it lives.
    const stored = await page.evaluate(() => JSON.stringify({ ...window.localStorage }) + JSON.stringify({ ...window.sessionStorage }));
    expect(stored).to.not.contain(key.replace(/^0x/, ""));

    // The same export with one line's amount changed: the verifier must reject it.
    const [json] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download export (JSON)" }).click()]);
    const doc = JSON.parse(await readFile((await json.path())!, "utf8")) as { invoice?: { lines: { amountMinor: string }[]; totalMinor: string } } & Record<string, unknown>;
    const tampered = JSON.stringify(tamper(doc));
    await page.getByLabel("Verify a saved export").setInputFiles({ name: "tampered.json", mimeType: "application/json", buffer: Buffer.from(tampered) });
    await page.getByTestId("verdict").filter({ hasText: "tampered.json" }).waitFor({ timeout: 120_000 });
    const forged = await shownReport(page);
    expectAllChecksShown(forged);
    console.log(`      verifier on the tampered invoice: ${forged.verdict} ${JSON.stringify(forged.checks)}`);
    expect(forged.verdict).to.equal("tampered.json: NOT VERIFIED");
    expect(await page.getByTestId("failed-checks").innerText()).to.match(/^Failed: .*document.*amounts/);
    // What the genuine copy passed, the forgery fails: its content hash and its arithmetic.
    expect(forged.checks.document).to.equal("fail");
    expect(forged.checks.amounts).to.equal("fail");

    await page.goto(`${stack.dashboard}#/tx/${txHash}`);
    await page.getByRole("heading", { level: 1, name: "Transaction" }).waitFor();
    await page.getByText("success").waitFor();
  });

  it("lets an operator create a webhook endpoint (secret shown once), rotate its secret and delete it", async function () {
    await goTo(page, "Webhooks", "Webhooks");
    await page.getByText("No endpoints yet.").waitFor();
    // The delivery log is on the page (deliveries and redelivery: deliveries.test.ts).
    await page.getByRole("heading", { level: 2, name: "Delivery log" }).waitFor();
    await page.locator("[data-testid=deliveries], .state.empty").last().waitFor();
    expect(await page.locator(".state.error").count()).to.equal(0);
    await page.getByLabel("URL (public https)").fill("http://127.0.0.1:9/meterline-hook");
    await page.getByRole("button", { name: "Create endpoint" }).click();
    const secretBox = page.getByTestId("webhook-secret");
    await secretBox.waitFor();
    const first = (await secretBox.locator("output").innerText()).trim();
    expect(first).to.match(/^whsec_/);
    await page.getByRole("button", { name: "I have stored it" }).click();
    expect(await page.getByText(first).count()).to.equal(0);
    await page.getByRole("button", { name: "Rotate the secret of http://127.0.0.1:9/meterline-hook" }).click();
    await secretBox.waitFor();
    const second = (await secretBox.locator("output").innerText()).trim();
    expect(second).to.match(/^whsec_/).and.not.equal(first);
    page.once("dialog", (d) => void d.accept());
    await page.getByRole("button", { name: "Delete http://127.0.0.1:9/meterline-hook" }).click();
    await page.getByText("No endpoints yet.").waitFor();
    // Bad input: the API's message is shown, nothing is created.
    await page.getByLabel("URL (public https)").fill("http://hooks.example.com/x");
    await page.getByRole("button", { name: "Create endpoint" }).click();
    await page.getByRole("alert").filter({ hasText: "The API refused" }).waitFor();
    await page.getByText("No endpoints yet.").waitFor();
  });

  it("signs out through the IdP; an auditor sees the audit log; keyboard navigation reaches the pages", async function () {
    await signOut(page, stack.dashboard);
    await signIn(page, stack.dashboard, "acme-auditor", stack.password);
    await goTo(page, "Audit log", "Audit log");
    await page.locator("[data-testid=audit], .state.empty").first().waitFor();
    expect(await page.locator(".state.error").count()).to.equal(0);
    // The first thing Tab reaches is the skip link, which moves focus to the page; page links are plain links.
    expect(await page.locator("a[href], button, input, select").first().innerText()).to.equal("Skip to content");
    await page.getByRole("link", { name: "Skip to content" }).focus();
    await page.keyboard.press("Enter");
    expect(await page.evaluate(() => document.activeElement?.id)).to.equal("main");
    await page.getByRole("link", { name: "Plans" }).focus();
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { level: 1, name: "Plans" }).waitFor();
    await page.getByTestId("plan").first().waitFor();
    expect(await page.getByRole("link", { name: "Webhooks" }).count()).to.equal(0);
    await signOut(page, stack.dashboard);
  });

  it("gives a platform operator a tenant switcher and the tenant's plans", async function () {
    await signIn(page, stack.dashboard, "platform-admin", stack.password);
    await page.getByRole("heading", { level: 1, name: "Choose a tenant" }).waitFor();
    await page.getByLabel("Acting on tenant").fill("globex");
    await page.getByRole("button", { name: "Switch" }).click();
    await goTo(page, "Plans", "Plans");
    await page.getByTestId("plan").first().waitFor();
    // A tenant that does not exist gets an error state, not an empty page or a crash.
    await page.getByLabel("Acting on tenant").fill("no-such-tenant");
    await page.getByRole("button", { name: "Switch" }).click();
    await page.locator(".state.error").first().waitFor();
    await page.getByLabel("Acting on tenant").fill("globex");
    await page.getByRole("button", { name: "Switch" }).click();
    await page.getByTestId("plan").first().waitFor();
    await page.getByLabel("Acting on tenant").fill("acme");
    await page.getByRole("button", { name: "Switch" }).click();
    await page.getByRole("heading", { level: 1, name: "Plans" }).waitFor();
    await page.getByText("Plan growth").waitFor();
    await signOut(page, stack.dashboard);
  });

  it("serves the offline GraphiQL page, which runs a query with a token", async function () {
    const token = await stack.token("acme", "viewer");
    const gq = await browser.context.newPage();
    gq.on("pageerror", (e) => errors.push(`graphiql pageerror: ${e.message}`));
    await gq.goto(stack.graphql);
    await gq.locator(".graphiql-container").first().waitFor({ timeout: 60_000 });
    // Monaco editors: query, variables, headers (opened with an Authorization header to fill in), response.
    const editors = gq.locator(".monaco-editor");
    const headers = editors.filter({ hasText: "Authorization" }).first();
    await headers.waitFor();
    // Monaco auto-closes brackets and quotes even for inserted text: what it adds after the cursor is deleted.
    await editors.first().click();
    await gq.keyboard.press("ControlOrMeta+A");
    await gq.keyboard.insertText("{ tenant { slug timeZone } }");
    await gq.keyboard.press("ControlOrMeta+Shift+End");
    await gq.keyboard.press("Delete");
    await headers.click();
    await gq.keyboard.press("ControlOrMeta+A");
    await gq.keyboard.insertText(JSON.stringify({ Authorization: `Bearer ${token}` }));
    // Whatever Monaco closed on its own after the cursor goes.
    await gq.keyboard.press("ControlOrMeta+Shift+End");
    await gq.keyboard.press("Delete");
    await gq.getByRole("button", { name: /^Execute query/ }).click();
    await editors.last().filter({ hasText: "Europe/Berlin" }).waitFor({ timeout: 30_000 });
    expect(await editors.last().innerText()).to.contain('"acme"');
    await gq.close();
  });

  it("ends the session when the access token expires and asks to sign in again", async function () {
    const p = await browser.context.newPage();
    p.on("pageerror", (e) => errors.push(`expiry pageerror: ${e.message}`));
    // The page's own clock, moved forward past the token's lifetime (one hour on the local IdP).
    await p.clock.install();
    await signIn(p, stack.dashboard, "globex-viewer", stack.password);
    await p.getByText("Tenant: globex").waitFor();
    await p.clock.fastForward("01:01:00");
    await p.getByRole("alert").filter({ hasText: "Your session expired. Sign in again to continue." }).waitFor({ timeout: 30_000 });
    await p.getByRole("button", { name: "Sign in" }).waitFor();
    expect(await p.getByRole("button", { name: "Sign out" }).count()).to.equal(0);
    await p.close();
  });

  it("ran without CSP violations or uncaught errors", function () {
    expect(errors).to.deep.equal([]);
  });
});

/** A forged copy: the first line's amount and the total raised by one minor unit. */
function tamper(doc: Record<string, unknown>): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
  const invoice = (copy.invoice ?? copy) as { lines?: { amountMinor?: string }[]; totalMinor?: string };
  if (!invoice.lines?.[0]?.amountMinor || !invoice.totalMinor) throw new Error(`unexpected export shape: ${Object.keys(copy).join(", ")}`);
  invoice.lines[0].amountMinor = String(BigInt(invoice.lines[0].amountMinor) + 1n);
  invoice.totalMinor = String(BigInt(invoice.totalMinor) + 1n);
  return copy;
}
