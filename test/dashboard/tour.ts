import { expect } from "chai";
import type { Page } from "playwright-core";

/** Steps through the dashboard as a person does, shared by the browser tests and `npm run screenshots`. */

export async function signIn(page: Page, base: string, username: string, password: string): Promise<void> {
  await page.goto(base);
  await page.getByRole("button", { name: "Sign in" }).click();
  // The IdP's own login page (another origin), rendered by its interaction routes.
  await page.waitForURL(/\/interaction\//);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => url.href.startsWith(base) && url.hash.startsWith("#/"), { timeout: 30_000 });
  await page.getByRole("button", { name: "Sign out" }).waitFor();
}

export async function signOut(page: Page, base: string): Promise<void> {
  await page.getByRole("button", { name: "Sign out" }).click();
  // oidc-provider's end-session confirmation, then back to the app.
  await page.getByRole("button", { name: "Yes, sign me out" }).click();
  await page.waitForURL((url) => url.href.startsWith(base));
  await page.getByText("You are signed out.").waitFor();
}

export async function goTo(page: Page, link: string, heading: string | RegExp): Promise<void> {
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: link }).click();
  await page.getByRole("heading", { level: 1, name: heading }).waitFor();
}

/** The usage page with its table of buckets (demo usage of the last minutes). */
export async function seeUsage(page: Page): Promise<number> {
  await goTo(page, "Usage", "Usage");
  const rows = page.getByTestId("usage-table").locator("tbody tr");
  await rows.first().waitFor({ timeout: 60_000 });
  return rows.count();
}

/** Waits (reloading the list) until billing has finalized an invoice; opens it. */
export async function openFinalizedInvoice(page: Page, timeoutMs = 150_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await goTo(page, "Invoices", "Invoices");
    await page.getByLabel("Status").selectOption("FINALIZED");
    const link = page.getByTestId("invoices").getByRole("link", { name: /^#\d+$/ });
    const found = await link
      .first()
      .waitFor({ timeout: 5_000 })
      .then(() => true)
      .catch(() => false);
    if (found) {
      await link.first().click();
      await page.getByRole("heading", { level: 1, name: /^Invoice #\d+$/ }).waitFor();
      return;
    }
    if (Date.now() > deadline) throw new Error("no finalized invoice appeared");
    await goTo(page, "Usage", "Usage");
    await page.waitForTimeout(5_000);
  }
}

export interface ShownReport {
  verdict: string;
  checks: Record<string, string>;
}

/** The report the page shows after a verification, check by check. */
export async function shownReport(page: Page): Promise<ShownReport> {
  const verdict = page.getByTestId("verdict");
  await verdict.waitFor({ timeout: 120_000 });
  const rows = page.getByTestId("verify-report").locator("tbody tr");
  const checks: Record<string, string> = {};
  for (const row of await rows.all()) checks[(await row.getAttribute("data-check"))!] = (await row.getAttribute("data-status"))!;
  return { verdict: (await verdict.innerText()).trim(), checks };
}

/** Enters the name key, runs "Verify against the chain" on the invoice's own export, waits for its report. */
export async function verifyWithKey(page: Page, nameKey: string): Promise<ShownReport> {
  await page.getByLabel("Your name key").fill(nameKey);
  await page.getByRole("button", { name: "Verify against the chain" }).click();
  // The previous report goes when a run starts; the new one comes when the button is enabled again.
  await page.waitForFunction(() => {
    const button = [...document.querySelectorAll("button")].find((b) => b.textContent === "Verify against the chain");
    return button !== undefined && !button.disabled && document.querySelector("[data-testid=verdict], .verify .state.error") !== null;
  }, undefined, { timeout: 120_000 });
  const failure = page.locator(".verify .state.error");
  if ((await failure.count()) > 0) throw new Error(`verification could not run: ${await failure.innerText()}`);
  return shownReport(page);
}

export function expectAllChecksShown(report: ShownReport): void {
  expect(Object.keys(report.checks)).to.deep.equal(["document", "parties", "anchored", "chain", "plan", "records", "billed-once", "adjustments", "amounts", "complete"]);
}
