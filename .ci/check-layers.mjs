#!/usr/bin/env node
// Vendored copy of ../shared/tools/check-layers.mjs (the design's import rules), so that CI on a clean clone
// can enforce them; .ci/run prefers the shared original when it sits next to the checkout.
// Lists imports that cross the architecture's allowed directions (see ../design/architecture.md).
// Run from the project root: node ../shared/tools/check-layers.mjs [--strict]
// Advisory by default (exit 0); --strict exits 1 when anything crosses.
import { readdirSync, readFileSync, statSync, existsSync } from "node:fs";
import path from "node:path";

// Which top-level folders each folder may import from (besides itself and npm packages).
const ALLOWED = {
  chain: [],
  db: [],
  rating: ["chain"],
  indexer: ["chain", "db"],
  webhooks: ["db"],
  verifier: ["chain", "rating"],
  billing: ["db", "webhooks", "chain", "rating", "verifier"],
  reporter: ["chain"],
  api: ["db", "billing", "webhooks", "chain", "rating", "verifier"],
  dashboard: ["chain", "rating", "verifier"],
  scripts: ["chain", "db", "indexer", "billing", "webhooks", "rating", "verifier", "reporter"],
  stack: ["chain", "db", "indexer", "billing", "webhooks", "rating", "verifier", "reporter", "api", "scripts"],
  bench: ["*"],
  test: ["*"],
};
const NEVER_FROM_PRODUCT = ["test", "bench"];
const strict = process.argv.includes("--strict");
const root = process.cwd();
const exts = [".ts", ".tsx", ".mts", ".js", ".mjs"];

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name.startsWith(".") || name === "dist" || name === "artifacts" || name === "typechain-types") continue;
    const p = path.join(dir, name);
    const s = statSync(p);
    if (s.isDirectory()) walk(p, out);
    else if (exts.includes(path.extname(name)) && !name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

const top = (abs) => path.relative(root, abs).split(path.sep)[0];
const crossings = [];
const unknown = new Set();
for (const folder of readdirSync(root)) {
  const dir = path.join(root, folder);
  if (!statSync(dir).isDirectory() || folder.startsWith(".") || folder === "node_modules") continue;
  for (const file of walk(dir)) {
    const text = readFileSync(file, "utf8");
    const specs = [...text.matchAll(/(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|require\(\s*["']([^"']+)["']\s*\)/g)]
      .map((m) => m[1] ?? m[2] ?? m[3])
      .filter((s) => s.startsWith("."));
    for (const spec of specs) {
      const target = path.resolve(path.dirname(file), spec);
      const to = top(target);
      if (to === folder || to.startsWith("..") || !existsSync(path.join(root, to))) continue;
      const allowed = ALLOWED[folder];
      if (!allowed) { unknown.add(folder); continue; }
      const ok = allowed.includes("*") ? true : allowed.includes(to);
      const forbidden = NEVER_FROM_PRODUCT.includes(to) && !["test", "bench"].includes(folder);
      if (!ok || forbidden) crossings.push(`${path.relative(root, file)} -> ${path.relative(root, target)}`);
    }
  }
}
if (unknown.size) console.log(`folders with no rule yet (add them to the design): ${[...unknown].join(", ")}`);
if (crossings.length === 0) console.log("layers: every import runs in an allowed direction");
else {
  console.log(`layers: ${crossings.length} import(s) run against the design:`);
  for (const c of crossings.slice(0, 40)) console.log("  " + c);
  if (crossings.length > 40) console.log(`  ... and ${crossings.length - 40} more`);
}
process.exit(strict && crossings.length ? 1 : 0);
