/**
 * `npm run screenshots`: starts a fresh demo stack on free ports, signs in through the local IdP
 * in headless Chromium and writes the main pages to docs/img/*.png (linked from the README).
 * Needs a built dashboard (npm run build:dashboard). Not a test: nothing is asserted.
 */
import { mkdtemp, mkdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { launchChromium } from "./browser";
import { startDashboardStack } from "./stack";
import { goTo, openFinalizedInvoice, seeUsage, signIn, signOut, verifyWithKey } from "./tour";

const OUT = path.join(__dirname, "..", "..", "docs", "img");

async function main(): Promise<void> {
  await mkdir(OUT, { recursive: true });
  const home = await mkdtemp(path.join(tmpdir(), "meterline-screenshots-"));
  const browser = await launchChromium();
  const stack = await startDashboardStack(home);
  try {
    const page = await browser.context.newPage();
    const shot = async (name: string) => {
      await page.waitForTimeout(500);
      await page.screenshot({ path: path.join(OUT, `${name}.png`), fullPage: false });
      console.log(`docs/img/${name}.png`);
    };
    await page.goto(stack.dashboard);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(/\/interaction\//);
    await page.getByLabel("Username").fill("acme-admin");
    await shot("dashboard-login");
    await signIn(page, stack.dashboard, "acme-admin", stack.password);
    await seeUsage(page);
    // A few rounds of demo usage make the chart worth looking at.
    await page.getByText(/Live: \d+ new records/).waitFor({ timeout: 60_000 });
    await page.waitForTimeout(6_000);
    await shot("dashboard-usage");
    await goTo(page, "Quotas", "Quotas");
    await page.getByTestId("quota").first().waitFor();
    await shot("dashboard-quotas");
    await openFinalizedInvoice(page);
    // acme's name key, typed in as its people would (from their records); billing anchors the
    // invoice shortly after finalizing it, so verify again until the anchor is there.
    const key = (await readFile(path.join(home, "name-keys", "acme.key"), "utf8")).trim();
    for (let i = 0; i < 24 && (await verifyWithKey(page, key)).verdict.endsWith("NOT VERIFIED"); i++) await page.waitForTimeout(5_000);
    await page.getByTestId("verify-report").scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(OUT, "dashboard-invoice.png"), fullPage: true });
    console.log("docs/img/dashboard-invoice.png");
    await goTo(page, "Webhooks", "Webhooks");
    await page.getByLabel("URL (public https)").fill("http://127.0.0.1:9/meterline-hook");
    await page.getByRole("button", { name: "Create endpoint" }).click();
    await page.getByRole("button", { name: "I have stored it" }).click();
    await page.getByTestId("endpoints").waitFor();
    await page.getByRole("heading", { level: 2, name: "Delivery log" }).waitFor();
    await page.screenshot({ path: path.join(OUT, "dashboard-webhooks.png"), fullPage: true });
    console.log("docs/img/dashboard-webhooks.png");
    await signOut(page, stack.dashboard);
  } finally {
    await browser.close();
    await stack.stop();
    await rm(home, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(`screenshots: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  });
}
