/**
 * Builds dist/meterline-verify.mjs: the verifier CLI and everything it imports (viem, zod, the
 * rating code) in one ES module that runs with plain `node` from any directory, no node_modules.
 * Run by `npm run build:verifier`. With --check-browser it also bundles the core (verifier/index.ts)
 * for the browser, which fails if anything in it reaches for a Node API.
 */
import { build } from "esbuild";
import path from "node:path";

const root = path.join(__dirname, "..", "..");
export const VERIFIER_BUNDLE = path.join(root, "dist", "meterline-verify.mjs");

export async function buildVerifier(outfile = VERIFIER_BUNDLE): Promise<void> {
  await build({
    entryPoints: [path.join(root, "verifier", "bin.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    minify: true,
    legalComments: "none",
    logLevel: "warning",
    banner: { js: "#!/usr/bin/env node" },
  });
}

/** Bundles the core for the browser; resolves to its size in bytes. Throws if it imports Node. */
export async function buildVerifierCoreForBrowser(): Promise<number> {
  const result = await build({
    entryPoints: [path.join(root, "verifier", "index.ts")],
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    minify: true,
    write: false,
    logLevel: "silent",
  });
  return result.outputFiles.reduce((n, f) => n + f.contents.byteLength, 0);
}

if (require.main === module) {
  const checkBrowser = process.argv.includes("--check-browser");
  buildVerifier()
    .then(async () => {
      console.log(`wrote ${path.relative(root, VERIFIER_BUNDLE)}`);
      if (checkBrowser) console.log(`verifier core bundles for the browser (${await buildVerifierCoreForBrowser()} bytes)`);
    })
    .catch((err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exitCode = 1;
    });
}
