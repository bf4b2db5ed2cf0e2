/**
 * `npm run build:dashboard`: type-checks dashboard/ and builds it with Vite into dashboard/dist,
 * which the API serves at `/` (api/http/dashboard.ts). Prints the gzipped size of every
 * JavaScript file and fails when the total passes the budget (300 KB gzipped, issue #12).
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";

const root = path.join(__dirname, "..", "..");
export const DASHBOARD_ROOT = path.join(root, "dashboard");
export const DASHBOARD_DIST = path.join(DASHBOARD_ROOT, "dist");
export const JS_BUDGET_BYTES = 300 * 1024;

/** Gzipped size (level 9, as a server would send it) of each JavaScript file in the build. */
export function gzippedJs(dist = DASHBOARD_DIST): { file: string; bytes: number; gzipped: number }[] {
  const dir = path.join(dist, "assets");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".js"))
    .map((f) => {
      const body = readFileSync(path.join(dir, f));
      return { file: `assets/${f}`, bytes: body.length, gzipped: gzipSync(body, { level: 9 }).length };
    });
}

async function main(): Promise<number> {
  execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "--noEmit", "-p", path.join(DASHBOARD_ROOT, "tsconfig.json")], { stdio: "inherit" });
  // Vite is an ES module whose types need "bundler" resolution; a variable specifier keeps this
  // CommonJS project's tsc from resolving it (the call below is all it needs).
  const VITE = "vite";
  const { build } = (await import(VITE)) as { build(options: { configFile: string; root: string; logLevel: string }): Promise<unknown> };
  await build({ configFile: path.join(DASHBOARD_ROOT, "vite.config.mts"), root: DASHBOARD_ROOT, logLevel: "warn" });
  const files = gzippedJs();
  const total = files.reduce((n, f) => n + f.gzipped, 0);
  for (const f of files) console.log(`${f.file.padEnd(40)} ${(f.bytes / 1024).toFixed(1).padStart(8)} KB  ${(f.gzipped / 1024).toFixed(1).padStart(7)} KB gzipped`);
  console.log(`dashboard JavaScript: ${(total / 1024).toFixed(1)} KB gzipped in ${files.length} files (budget ${JS_BUDGET_BYTES / 1024} KB) -> ${path.relative(root, DASHBOARD_DIST)}`);
  if (total > JS_BUDGET_BYTES) {
    console.error(`build:dashboard: ${(total / 1024).toFixed(1)} KB of gzipped JavaScript is over the ${JS_BUDGET_BYTES / 1024} KB budget`);
    return 1;
  }
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      console.error(`build:dashboard: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    },
  );
}
