/**
 * `npm run bench:dashboard`: the dashboard on a local stack (npm start on free ports, headless
 * Chromium). Prints, not asserts: the gzipped JavaScript of the build, and how long the usage
 * page takes to its first render with data:
 *   - cold: open the app, sign in (the IdP session already exists, so one redirect round trip),
 *     load settings and tenant, query usage, draw; what a returning user waits for;
 *   - in-app: from clicking "Usage" on another page to the table of buckets.
 * Needs a built dashboard (npm run build:dashboard).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { gzippedJs } from "../scripts/build/dashboard";
import { launchChromium } from "../test/dashboard/browser";
import { startDashboardStack } from "../test/dashboard/stack";
import { goTo, signIn } from "../test/dashboard/tour";

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const files = gzippedJs();
  const total = files.reduce((n, f) => n + f.gzipped, 0);
  const entry = files.find((f) => /assets\/index-/.test(f.file));
  console.log(`dashboard JavaScript: ${(total / 1024).toFixed(1)} KB gzipped in total; first load ${((entry?.gzipped ?? 0) / 1024).toFixed(1)} KB (the verifier loads on demand)`);

  const home = await mkdtemp(path.join(tmpdir(), "meterline-bench-dashboard-"));
  const browser = await launchChromium();
  const stack = await startDashboardStack(home);
  try {
    const page = await browser.context.newPage();
    await signIn(page, stack.dashboard, "acme-viewer", stack.password);
    const table = page.getByTestId("usage-table").locator("tbody tr").first();
    await table.waitFor({ timeout: 60_000 });
    const cold: number[] = [];
    const warm: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      // A real page load (a hash-only change would keep the signed-in app).
      await page.goto("about:blank");
      const t0 = Date.now();
      await page.goto(`${stack.dashboard}#/usage`);
      await page.getByRole("button", { name: "Sign in" }).click();
      await table.waitFor({ timeout: 60_000 });
      cold.push(Date.now() - t0);
      await goTo(page, "Quotas", "Quotas");
      const t1 = Date.now();
      await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Usage" }).click();
      await table.waitFor({ timeout: 60_000 });
      warm.push(Date.now() - t1);
    }
    console.log(`usage page, first render with data, cold (load + OIDC round trip + queries): median ${median(cold)} ms of ${RUNS} (min ${Math.min(...cold)}, max ${Math.max(...cold)})`);
    console.log(`usage page, first render with data, in-app navigation: median ${median(warm)} ms of ${RUNS} (min ${Math.min(...warm)}, max ${Math.max(...warm)})`);
  } finally {
    await browser.close();
    await stack.stop();
    await rm(home, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`bench:dashboard: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
