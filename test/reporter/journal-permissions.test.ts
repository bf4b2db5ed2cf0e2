import { chmod, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import { custom } from "viem";
import { Journal, JournalPermissionError, exitCodeOf, parseReporterConfig, runReporter } from "../../reporter";
import { deployWithTenant, hardhatAccount, hardhatKey, silentLogger, tempDir, usageFile, type MeterSetup } from "./helpers";

const ACCOUNT = 19;

async function modes(root: string): Promise<{ dirs: Map<string, number>; files: Map<string, number> }> {
  const dirs = new Map<string, number>();
  const files = new Map<string, number>();
  const walk = async (dir: string) => {
    dirs.set(dir, (await stat(dir)).mode & 0o777);
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else files.set(full, (await stat(full)).mode & 0o777);
    }
  };
  await walk(root);
  return { dirs, files };
}

async function submit(setup: MeterSetup, file: string, journal: string, extra: string[] = []) {
  const config = parseReporterConfig({ METERLINE_REPORTER_KEY: hardhatKey(ACCOUNT) }, [file, "--meter", setup.meter, "--journal", journal, "--batch-size", "2", ...extra]);
  return runReporter(config, { transport: custom(hre.network.provider), logger: silentLogger, mineWhileWaiting: true });
}

describe("reporter journal secrets at rest", function () {
  if (process.platform === "win32") return;
  let setup: MeterSetup;
  before(async function () {
    setup = await deployWithTenant("acme", [hardhatAccount(ACCOUNT).address]);
  });

  it("writes journal files 0600 and directories 0700 whatever the umask, and the relay payload 0600", async function () {
    const dir = await tempDir("modes");
    // Journal below a directory that does not exist yet, as with the default .meterline/reporter-journal.
    const journal = path.join(dir, "state", "journal");
    const previous = process.umask(0o000);
    try {
      const { file } = await usageFile(dir, "acme", 5);
      expect(await submit(setup, file, journal)).to.include({ revealedRecords: 5 });
      const { file: more } = await usageFile(dir, "acme", 2, "more.jsonl");
      const payload = path.join(dir, "payload.json");
      expect(await submit(setup, more, journal, ["--relay", payload])).to.include({ mode: "relay", signed: 1 });
      expect((await stat(payload)).mode & 0o777).to.equal(0o600);
    } finally {
      process.umask(previous);
    }
    const { dirs, files } = await modes(journal);
    // root, scope, jobs, batches, keys
    expect(dirs.size).to.equal(5);
    for (const [d, mode] of dirs) expect(mode, d).to.equal(0o700);
    expect([...files.keys()].some((f) => f.includes(`${path.sep}batches${path.sep}`))).to.equal(true);
    expect([...files.keys()].some((f) => f.endsWith(".jsonl"))).to.equal(true);
    for (const [f, mode] of files) expect(mode, f).to.equal(0o600);
    expect((await stat(path.join(dir, "state"))).mode & 0o777).to.equal(0o700);
  });

  it("refuses a journal file or directory that group or others can access, in one line naming the path and the fix", async function () {
    const dir = await tempDir("refuse");
    const journal = path.join(dir, "journal");
    const { file } = await usageFile(dir, "acme", 2, "refuse.jsonl");
    await submit(setup, file, journal);
    const [scopeName] = await readdir(journal);
    const scope = path.join(journal, scopeName!);
    const [jobName] = await readdir(path.join(scope, "jobs"));
    const scopeArgs = { chainId: 31337, meter: setup.meter, reporter: hardhatAccount(ACCOUNT).address };

    for (const [target, mode, restore] of [
      [path.join(scope, "jobs", jobName!), 0o644, 0o600],
      [path.join(scope, "batches"), 0o755, 0o700],
      [path.join(scope, "keys"), 0o720, 0o700],
      [journal, 0o750, 0o700],
    ] as const) {
      await chmod(target, mode);
      let error: unknown;
      await Journal.open(journal, scopeArgs).catch((err: unknown) => (error = err));
      expect(error, target).to.be.instanceOf(JournalPermissionError);
      const message = (error as Error).message;
      expect(message).to.not.contain("\n");
      expect(message).to.contain(`journal path ${target} `);
      expect(message).to.contain(`(mode ${mode.toString(8).padStart(4, "0")})`);
      expect(message).to.match(new RegExp(`chmod -R go-rwx ${journal.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`));
      expect(exitCodeOf(error)).to.equal(2);
      await chmod(target, restore);
    }
    await Journal.open(journal, scopeArgs);

    // Through the task: one line on stderr, exit code 2, nothing submitted.
    await chmod(path.join(scope, "jobs", jobName!), 0o640);
    const lines: string[] = [];
    const consoleError = console.error;
    const exitCode = process.exitCode;
    console.error = (...args: unknown[]) => void lines.push(args.join(" "));
    const previous = process.env.METERLINE_REPORTER_KEY;
    process.env.METERLINE_REPORTER_KEY = hardhatKey(ACCOUNT);
    try {
      const result: unknown = await hre.run("meter:submit", { input: file, meter: setup.meter, journal, resume: false });
      expect(result).to.equal(undefined);
      expect(process.exitCode).to.equal(2);
    } finally {
      console.error = consoleError;
      process.exitCode = exitCode;
      if (previous === undefined) delete process.env.METERLINE_REPORTER_KEY;
      else process.env.METERLINE_REPORTER_KEY = previous;
    }
    expect(lines).to.have.length(1);
    expect(lines[0]).to.match(/^meter:submit: journal path .*jobs.* is accessible to group\/others \(mode 0640\); .*: run chmod -R go-rwx /);
  });
});
