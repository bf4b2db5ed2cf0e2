/* global require, module, __dirname */
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS file that solidity-coverage require()s */
// solidity-coverage settings for `npm run coverage`.
const fs = require("node:fs");
const path = require("node:path");

// With Hardhat 2, solidity-coverage compiles the instrumented contracts into the project's own
// artifacts/ and cache/. In a working tree where other processes run `hardhat test` or `compile`
// at the same time, they recompile over the instrumented artifacts mid-run (coverage then reads
// 0% or a random part of it), and they can pick up instrumented bytecode themselves (e.g. the
// gas benchmark). So coverage gets its own artifacts and cache, removed when it is done.
const ARTIFACTS = path.join(__dirname, ".coverage_artifacts");
const CACHE = path.join(__dirname, ".coverage_cache");

function removeTempDirs() {
  for (const dir of [ARTIFACTS, CACHE]) fs.rmSync(dir, { recursive: true, force: true });
}

module.exports = {
  // Test-only contracts (the ERC-1271 wallet mock, ...) are scaffolding, not product code.
  skipFiles: ["test/"],

  onPreCompile: async (config) => {
    // Imported lazily: this file is loaded by the coverage task inside a running Hardhat.
    const hre = require("hardhat");
    const { Artifacts } = require("hardhat/internal/artifacts");
    removeTempDirs();
    config.paths.artifacts = ARTIFACTS;
    config.paths.cache = CACHE;
    // Tasks and hardhat-ethers read `hre.artifacts` at call time, so this redirects both the
    // compile output and every getContractFactory in the tests.
    hre.artifacts = new Artifacts(ARTIFACTS);
    // The ABI is unchanged by instrumentation; keep the shared scripts/typechain-types/ untouched.
    config.typechain.dontOverrideCompile = true;
  },

  onIstanbulComplete: async () => {
    removeTempDirs();
  },
};
