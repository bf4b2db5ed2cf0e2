import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import { TASK_NODE_CREATE_SERVER } from "hardhat/builtin-tasks/task-names";
import { deployWithTenant, hardhatAccount, hardhatKey, revealedUsage, tempDir, usageFile } from "./helpers";

const ROOT = path.join(__dirname, "..", "..");
// `node --import tsx` (not the tsx CLI, which forks a second process that SIGKILL would orphan).
const NODE_ARGS = ["--import", "tsx"];

interface Child {
  proc: ChildProcess;
  stdout: string[];
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Everything every reporter child printed, to check that no key material is ever logged. */
const allOutput: string[] = [];

function spawnReporter(args: string[], env: Record<string, string>): Child {
  const proc = spawn(process.execPath, [...NODE_ARGS, path.join(ROOT, "reporter", "cli.ts"), ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const child: Child = {
    proc,
    stdout: [],
    stderr: [],
    exited: new Promise((resolve) => proc.once("exit", (code, signal) => resolve({ code, signal }))),
  };
  proc.stdout!.on("data", (d: Buffer) => {
    child.stdout.push(d.toString());
    allOutput.push(d.toString());
  });
  proc.stderr!.on("data", (d: Buffer) => {
    child.stderr.push(d.toString());
    allOutput.push(d.toString());
  });
  return child;
}

async function waitForOutput(child: Child, pattern: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(child.stdout.join(""))) {
    if (child.proc.exitCode !== null) throw new Error(`reporter exited early: ${child.stderr.join("")}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}: ${child.stderr.join("")}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("reporter crash recovery (child process, SIGKILL)", function () {
  let server: { listen(): Promise<{ port: number }>; close(): Promise<void> };
  let rpcUrl: string;

  before(async function () {
    server = await hre.run(TASK_NODE_CREATE_SERVER, { hostname: "127.0.0.1", port: 0, provider: hre.network.provider });
    const { port } = await server.listen();
    rpcUrl = `http://127.0.0.1:${port}`;
  });

  after(async function () {
    await server.close();
  });

  it("lands every record exactly once after SIGKILLs between commit and reveal and at random points", async function () {
    const account = hardhatAccount(9);
    const setup = await deployWithTenant("acme", [account.address]);
    const dir = await tempDir("crash");
    const count = 30;
    const { file, total } = await usageFile(dir, "acme", count);
    const args = ["--input", file, "--meter", setup.meter, "--rpc", rpcUrl, "--journal", path.join(dir, "journal"), "--batch-size", "4", "--mine"];
    const env = { METERLINE_REPORTER_KEY: hardhatKey(9) };

    // 1. Killed right after its first commit is mined, before any reveal.
    let child = spawnReporter(args, { ...env, METERLINE_REPORTER_TEST_PAUSE_AFTER_COMMIT: "1" });
    await waitForOutput(child, /PAUSED_AFTER_COMMIT/, 60_000);
    child.proc.kill("SIGKILL");
    expect((await child.exited).signal).to.equal("SIGKILL");
    expect(await revealedUsage(setup)).to.have.length(0);

    // 2. Resumes: reveals batch 1 with the journaled salt, pipelines commit 2, is killed after commit 3.
    child = spawnReporter(args, { ...env, METERLINE_REPORTER_TEST_PAUSE_AFTER_COMMIT: "2" });
    await waitForOutput(child, /PAUSED_AFTER_COMMIT/, 60_000);
    child.proc.kill("SIGKILL");
    await child.exited;
    expect((await revealedUsage(setup)).length).to.equal(2);

    // 3. Killed at arbitrary moments (possibly mid-journal-write or with a transaction in flight).
    for (const delay of [900, 1700]) {
      child = spawnReporter(args, env);
      await new Promise((r) => setTimeout(r, delay + Math.floor(Math.random() * 400)));
      child.proc.kill("SIGKILL");
      await child.exited;
    }

    // 4. A clean run finishes the rest.
    child = spawnReporter(args, env);
    const { code } = await child.exited;
    expect(code, child.stderr.join("")).to.equal(0);

    const revealed = await revealedUsage(setup);
    const records = revealed.flatMap((r) => r.records);
    expect(records).to.have.length(count);
    expect(records.reduce((acc, r) => acc + r.quantity, 0n)).to.equal(total);
    expect(records.map((r) => r.sequence)).to.deep.equal(Array.from({ length: count }, (_, i) => BigInt(i + 1)));
    expect(new Set(records.map((r) => r.ref)).size).to.equal(count);

    // And a further run has nothing left to do.
    child = spawnReporter(args, env);
    expect((await child.exited).code).to.equal(0);
    expect(JSON.parse(child.stdout.join("").trim().split("\n").at(-1)!)).to.include({ revealed: 0, resumed: true });

    // Logging discipline: the reporter logged its progress but never its key.
    expect(allOutput.join("")).to.match(/"msg":"revealed"/);
    expect(allOutput.join("").toLowerCase()).to.not.contain(hardhatKey(9).slice(2).toLowerCase());
  });

  it("exits with code 2 naming the bad lines, having submitted nothing", async function () {
    const dir = await tempDir("badinput");
    const file = path.join(dir, "bad.csv");
    await (await import("node:fs/promises")).writeFile(
      file,
      "tenant,meter,period_start,period_end,quantity\nacme,api_calls,1700000000,1700000060,5\nacme,api_calls,1700000000,1700000060,-1\n",
    );
    const child = spawnReporter(["--input", file, "--rpc", rpcUrl, "--journal", path.join(dir, "journal")], {
      METERLINE_REPORTER_KEY: hardhatKey(9),
    });
    const { code } = await child.exited;
    expect(code).to.equal(2);
    expect(child.stderr.join("")).to.match(/line 3: quantity/);
  });
});
