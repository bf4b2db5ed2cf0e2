/**
 * The README tour on non-default ports: `npm start` with its own home and free ports records where
 * it runs in <home>/stack.json, and `npm run token`, the meter:* tasks on `--network localhost`
 * and the reporter reach that stack through it (or fail with one line saying how to point them).
 * Port conflicts are one line naming the variable; logs are JSON when not on a terminal.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:net";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { createPublicClient, http, parseAbi, type Address } from "viem";
import { stackLocationSchema } from "../../chain/local-stack";

const ROOT = path.join(__dirname, "..", "..");
const READY = /^Meterline ready: graphql=(\S+) issuer=(\S+) rpc=(\S+)$/m;
/** Hardhat's public development key of account 5 (README tour step 5); never used elsewhere. */
const DEV_KEY_5 = "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba";
const DEV_ADDRESS_5 = "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc";

interface Proc {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  out: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A command as a user types it at the repository root, stdout/stderr piped (not a terminal). */
function run(cmd: string, args: string[], env: Record<string, string | undefined>): Proc {
  const merged: NodeJS.ProcessEnv = { ...process.env };
  // The test runner's own settings must not leak into the commands under test.
  for (const k of ["METERLINE_HOME", "METERLINE_RPC_URL", "METERLINE_DEPLOYMENT", "METERLINE_DEPLOYMENTS_DIR", "HARDHAT_NETWORK", "LOG_FORMAT"]) delete merged[k];
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete merged[k];
    else merged[k] = v;
  }
  const child = spawn(cmd, args, { cwd: ROOT, env: merged, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let stdout = "";
  let stderr = "";
  let both = "";
  child.stdout!.on("data", (d: Buffer) => {
    stdout += d.toString();
    both += d.toString();
  });
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
    both += d.toString();
  });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    out: () => both,
    exited: new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal }))),
  };
}

async function finished(p: Proc, timeoutMs = 120_000): Promise<number | null> {
  const exit = await Promise.race([
    p.exited,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no exit after ${timeoutMs} ms:\n${p.out()}`)), timeoutMs)),
  ]);
  return exit.code;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function occupy(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve({ server, port: (server.address() as { port: number }).port }));
  });
}

/** The one line (no stack trace) a failing command printed. */
function oneLine(p: Proc): string {
  const lines = p.out().split("\n").filter((l) => l.trim() !== "" && !l.startsWith(">") );
  expect(lines, p.out()).to.have.length(1);
  expect(p.out()).to.not.match(/^\s+at /m);
  return lines[0]!;
}

const hardhat = (args: string[], env: Record<string, string | undefined>) => run("npx", ["hardhat", ...args], env);

describe("the tour on non-default ports (npm start + token, tasks and reporter)", function () {
  this.timeout(600_000);
  let home: string;
  let elsewhere: string;
  let stack: Proc | undefined;

  before(async function () {
    home = await mkdtemp(path.join(tmpdir(), "meterline-tour-"));
    elsewhere = await mkdtemp(path.join(tmpdir(), "meterline-tour-empty-"));
  });

  after(async function () {
    if (stack && stack.child.exitCode === null && stack.child.signalCode === null) {
      try {
        process.kill(-stack.child.pid!, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await rm(home, { recursive: true, force: true });
    await rm(elsewhere, { recursive: true, force: true });
  });

  for (const variable of ["METERLINE_RPC_PORT", "METERLINE_IDP_PORT", "METERLINE_API_PORT"]) {
    it(`refuses a taken ${variable} with one line naming the variable`, async function () {
      const taken = await occupy();
      try {
        const env: Record<string, string> = { METERLINE_HOME: elsewhere, METERLINE_RPC_PORT: "0", METERLINE_IDP_PORT: "0", METERLINE_API_PORT: "0" };
        env[variable] = String(taken.port);
        const start = run("node", ["--import", "tsx", "stack/cli.ts"], env);
        expect(await finished(start)).to.equal(1);
        expect(oneLine(start)).to.equal(`start: port ${taken.port} is in use: set ${variable} to a free port (0 picks one)`);
        expect(existsSync(path.join(elsewhere, "stack.json"))).to.equal(false);
      } finally {
        taken.server.close();
      }
    });
  }

  it("without a running stack, token, --network localhost and the reporter each say in one line how to point them", async function () {
    const env = { METERLINE_HOME: elsewhere };
    const token = run("npx", ["tsx", "stack/token.ts", "--tenant", "acme", "--role", "viewer"], env);
    expect(await finished(token)).to.equal(1);
    expect(oneLine(token)).to.match(/^token: no running Meterline stack \(no .*stack\.json\): start one with npm start, or set METERLINE_HOME/);

    const pause = hardhat(["meter:pause", "--network", "localhost", "--reason", "tour"], env);
    expect(await finished(pause)).to.equal(1);
    expect(oneLine(pause)).to.match(/^error: network localhost: no running Meterline stack found .*set METERLINE_RPC_URL$/);

    const reporter = run("npx", ["tsx", "reporter/cli.ts", "usage.csv"], { ...env, METERLINE_REPORTER_KEY: DEV_KEY_5 });
    expect(await finished(reporter)).to.equal(2);
    expect(oneLine(reporter)).to.match(/^reporter: no running Meterline stack found .*\(or pass --rpc\)$/);
  });

  it("shows required task parameters as required", async function () {
    const help = hardhat(["help", "meter:pause"], {});
    expect(await finished(help)).to.equal(0);
    // Hardhat brackets optional parameters in the usage line.
    expect(help.stdout()).to.match(/Usage: hardhat \[GLOBAL OPTIONS\] meter:pause --reason <STRING>\s*$/m);
  });

  it("starts on free ports in its own home; token, meter:* on localhost and the reporter find it there; stops cleanly", async function () {
    const env = { METERLINE_HOME: home, METERLINE_RPC_PORT: "0", METERLINE_IDP_PORT: "0", METERLINE_API_PORT: "0", METERLINE_DEMO_INTERVAL_MS: "2000" };
    stack = run("npm", ["start"], env);
    const ready = await waitFor("the ready line", 180_000, () => {
      if (stack!.child.exitCode !== null) throw new Error(`npm start exited early:\n${stack!.out()}`);
      return READY.exec(stack!.out()) ?? undefined;
    });
    const [, graphqlUrl, issuer, rpc] = ready as unknown as [string, string, string, string];
    expect(rpc).to.not.equal("http://127.0.0.1:8545");
    // The printed tour names the home, so every copy-pasted command reaches this stack.
    expect(stack.out()).to.contain(`METERLINE_HOME=${home} npx hardhat meter:pause --network localhost`);

    // 1. Where it runs, recorded in its home.
    const location = stackLocationSchema.parse(JSON.parse(await readFile(path.join(home, "stack.json"), "utf8")));
    expect(location).to.include({ rpc, issuer, graphql: graphqlUrl, chainId: 31337 });
    expect(location.stoppedAt).to.equal(undefined);
    expect(location.deploymentFile.startsWith(home)).to.equal(true);
    const deployment = JSON.parse(await readFile(location.deploymentFile, "utf8")) as { address: Address };
    const chain = createPublicClient({ transport: http(rpc) });
    const paused = () => chain.readContract({ address: deployment.address, abi: parseAbi(["function paused() view returns (bool)"]), functionName: "paused" });

    const home_ = { METERLINE_HOME: home };
    // One stack per home: a second start says so in one line and leaves the first alone.
    const second = run("node", ["--import", "tsx", "stack/cli.ts"], { ...env });
    expect(await finished(second)).to.equal(1);
    expect(oneLine(second)).to.equal(`start: a stack already runs from ${home} (pid ${location.pid}, rpc ${rpc}): stop it first, or set METERLINE_HOME to another directory`);
    // `npm run where` prints what the tour's commands need.
    const where = run("npm", ["run", "--silent", "where", "--", "graphql"], home_);
    expect(await finished(where), where.out()).to.equal(0);
    expect(where.stdout().trim()).to.equal(graphqlUrl);
    const whereMeter = run("npm", ["run", "--silent", "where", "--", "meter"], home_);
    expect(await finished(whereMeter), whereMeter.out()).to.equal(0);
    expect(whereMeter.stdout().trim()).to.equal(deployment.address);
    // 2. A token from its IdP.
    const token = run("npx", ["tsx", "stack/token.ts", "--tenant", "acme", "--role", "viewer"], home_);
    expect(await finished(token), token.out()).to.equal(0);
    expect(token.stdout().trim().split(".")).to.have.length(3);

    // 3. meter:pause / meter:unpause on --network localhost act on this stack's chain.
    const pause = hardhat(["meter:pause", "--network", "localhost", "--reason", "tour: pretend incident"], home_);
    expect(await finished(pause), pause.out()).to.equal(0);
    expect(await paused()).to.equal(true);
    const unpause = hardhat(["meter:unpause", "--network", "localhost"], home_);
    expect(await finished(unpause), unpause.out()).to.equal(0);
    expect(await paused()).to.equal(false);

    // 4. With METERLINE_RPC_URL pointing at it, the deployment record still comes from the stack.
    const roles = hardhat(["meter:roles", "--network", "localhost"], { ...home_, METERLINE_RPC_URL: rpc });
    expect(await finished(roles), roles.out()).to.equal(0);
    expect(roles.stdout()).to.contain(`UsageMeter ${deployment.address} on chain 31337`);

    // Without the home, METERLINE_RPC_URL alone reaches the chain but not the stack's deployment
    // file: one line naming what to set, nothing sent.
    const bare = hardhat(["meter:pause", "--network", "localhost", "--reason", "x"], { METERLINE_HOME: elsewhere, METERLINE_RPC_URL: rpc });
    expect(await finished(bare)).to.equal(1);
    expect(oneLine(bare)).to.match(/^error: no UsageMeter deployment for chain 31337 .*METERLINE_DEPLOYMENT.*METERLINE_HOME/);
    expect(await paused()).to.equal(false);
    const explicit = hardhat(["meter:roles", "--network", "localhost"], { METERLINE_HOME: elsewhere, METERLINE_RPC_URL: rpc, METERLINE_DEPLOYMENT: location.deploymentFile });
    expect(await finished(explicit), explicit.out()).to.equal(0);
    expect(explicit.stdout()).to.contain(`UsageMeter ${deployment.address} on chain 31337`);

    // 5. The reporter (README step 5) finds RPC and deployment; its logs are JSON off a terminal.
    const authorize = hardhat(["meter:tenant", "authorize", "--network", "localhost", "--tenant", "acme", "--reporter", DEV_ADDRESS_5, "--name-key", `file:${path.join(home, "name-keys", "acme.key")}`], home_);
    expect(await finished(authorize), authorize.out()).to.equal(0);
    const usage = path.join(home, "usage.csv");
    await writeFile(usage, "tenant,meter,period_start,period_end,quantity,source_id\nacme,api_calls,2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,1200,evt-1\n");
    const reporter = run("npx", ["tsx", "reporter/cli.ts", usage, "--journal", path.join(home, "tour-journal"), "--mine", "--name-key", `file:${path.join(home, "name-keys", "acme.key")}`], { ...home_, METERLINE_REPORTER_KEY: DEV_KEY_5 });
    expect(await finished(reporter, 180_000), reporter.out()).to.equal(0);
    const result = JSON.parse(reporter.stdout().trim().split("\n").at(-1)!) as { meter: string; revealedRecords: number; mode: string };
    expect(result).to.include({ meter: deployment.address, mode: "submit", revealedRecords: 1 });
    const logLines = reporter.stderr().trim().split("\n").filter((l) => l !== "");
    expect(logLines.length).to.be.greaterThan(0);
    for (const line of logLines) expect((JSON.parse(line) as { level: number }).level, line).to.be.a("number");

    // 6. Stop: the file is marked, and nothing mistakes the stopped stack's ports for a stack.
    process.kill(-stack.child.pid!, "SIGINT");
    await finished(stack, 60_000);
    expect(stack.out()).to.match(/Meterline stopped\./);
    const stopped = stackLocationSchema.parse(JSON.parse(await readFile(path.join(home, "stack.json"), "utf8")));
    expect(stopped.stoppedAt).to.be.a("string");
    const late = run("npx", ["tsx", "stack/token.ts", "--tenant", "acme", "--role", "viewer"], home_);
    expect(await finished(late)).to.equal(1);
    expect(oneLine(late)).to.match(/was stopped at/);
    const audit = hardhat(["meter:audit", "--network", "localhost"], home_);
    expect(await finished(audit)).to.equal(1);
    expect(oneLine(audit)).to.match(/^error: network localhost: .*was stopped at/);

    // The stack's own log file stays JSON lines whatever the terminal.
    const log = (await readFile(path.join(home, "stack.log"), "utf8")).trim().split("\n");
    for (const line of log.slice(0, 20)) expect(() => JSON.parse(line) as unknown, line).to.not.throw();
  });
});
