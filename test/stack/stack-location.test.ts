/**
 * How clients find a running stack (chain/local-stack.ts), and the log and port rules every entry
 * point shares (db/logger.ts, reporter/logger.ts, db/ports.ts). Fast: no stack is started here
 * (test/stack/tour-ports.test.ts runs the whole tour).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { findRunningStack, resolveDeploymentFile, resolveRpc, stackHome, StackLocationError, type StackLocation } from "../../chain/local-stack";
import { assertPortFree, PortInUseError } from "../../db/ports";
import { logFormatFromEnv, LogConfigError } from "../../db/logger";

const ROOT = path.join(__dirname, "..", "..");

function deploymentRecord(address: string) {
  return {
    chainId: 31337,
    contract: "UsageMeter",
    address,
    deployBlock: 1,
    deployBlockHash: `0x${"1".repeat(64)}`,
    txHash: `0x${"2".repeat(64)}`,
    constructorArgs: { adminDelay: 0, admin: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", minRevealDelay: 1, maxRevealDelay: 7200 },
    abiHash: `0x${"3".repeat(64)}`,
  };
}

/** The pid of a process that has exited (so is not alive). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
  return Number(r.stdout.toString());
}

describe("finding the running stack (stack.json)", function () {
  let dir: string;
  let home: string;
  /** Stands in for `npm start`: a live process whose command line runs stack/cli.ts. */
  let fakeStack: ChildProcess;
  before(function () {
    fakeStack = spawn(process.execPath, ["-e", "setInterval(() => undefined, 1000)", "stack/cli.ts"], { stdio: "ignore" });
  });
  after(function () {
    fakeStack.kill("SIGKILL");
  });
  const rpc = "http://127.0.0.1:18545";
  const location = (over: Partial<StackLocation> = {}): StackLocation => ({
    rpc,
    chainId: 31337,
    deploymentFile: path.join(home, "deployments", "31337.json"),
    graphql: "http://127.0.0.1:14000/graphql",
    issuer: "http://127.0.0.1:19400",
    pid: fakeStack.pid!,
    startedAt: new Date().toISOString(),
    ...over,
  });
  const writeStack = (l: StackLocation, extra: object = {}) => writeFile(path.join(home, "stack.json"), JSON.stringify({ ...l, ...extra }));

  beforeEach(async function () {
    dir = await mkdtemp(path.join(tmpdir(), "meterline-location-"));
    home = path.join(dir, "home");
    await mkdir(path.join(home, "deployments"), { recursive: true });
    await writeFile(path.join(home, "deployments", "31337.json"), JSON.stringify(deploymentRecord("0x5FbDB2315678afecb367f032d93F642f64180aa3")));
  });
  afterEach(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it("resolves METERLINE_HOME (default .meterline) against the working directory", function () {
    expect(stackHome({}, "/repo")).to.equal("/repo/.meterline");
    expect(stackHome({ METERLINE_HOME: "" }, "/repo")).to.equal("/repo/.meterline");
    expect(stackHome({ METERLINE_HOME: "/tmp/x" }, "/repo")).to.equal("/tmp/x");
  });

  it("trusts a stack.json only while its process lives and it was not stopped", async function () {
    expect(findRunningStack(home)).to.deep.include({ kind: "absent" });
    await writeStack(location(), { clients: [{ tenant: "acme", role: "viewer", clientId: "a", clientSecret: "s" }] });
    const running = findRunningStack(home);
    expect(running.kind).to.equal("running");
    // Readers of the public part never see the demo secrets.
    expect(JSON.stringify(running)).to.not.contain("clientSecret");

    await writeStack(location({ pid: deadPid() }));
    const stale = findRunningStack(home);
    expect(stale.kind).to.equal("absent");
    expect(stale.kind === "absent" && stale.why).to.match(/is not running \(pid \d+ is gone or runs something else\)/);

    // After a crash and a reboot, the pid may be alive but another program's (this test runner's).
    await writeStack(location({ pid: process.pid }));
    expect(findRunningStack(home).kind).to.equal(process.platform === "linux" ? "absent" : "running");

    await writeStack(location({ stoppedAt: new Date().toISOString() }));
    expect(findRunningStack(home)).to.deep.include({ kind: "absent" });

    // A file from an older stack (no deploymentFile/startedAt) is not guessed at.
    await writeFile(path.join(home, "stack.json"), JSON.stringify({ rpc, issuer: rpc, graphql: null, chainId: 31337, pid: fakeStack.pid }));
    const old = findRunningStack(home);
    expect(old.kind === "absent" && old.why).to.match(/not from a current stack.*restart npm start/);
  });

  it("takes METERLINE_RPC_URL first, then the running stack, and otherwise says how to point it (never 127.0.0.1:8545)", async function () {
    const env = { METERLINE_HOME: home };
    expect(() => resolveRpc(env)).to.throw(StackLocationError, /^no running Meterline stack found \(no .*stack\.json\): start it with npm start, set METERLINE_HOME .* or set METERLINE_RPC_URL$/);
    await writeStack(location());
    expect(resolveRpc(env)).to.deep.equal({ url: rpc, stack: location({ startedAt: resolveRpc(env).stack!.startedAt }) });
    expect(resolveRpc({ ...env, METERLINE_RPC_URL: "http://10.0.0.1:8545" })).to.deep.equal({ url: "http://10.0.0.1:8545" });
    expect(resolveRpc({ ...env, METERLINE_RPC_URL: `${rpc}/` }).stack?.rpc).to.equal(rpc);
  });

  it("takes the deployment record from METERLINE_DEPLOYMENT, else from the stack serving that RPC, else deployments/", async function () {
    await writeStack(location());
    const other = path.join(dir, "other.json");
    await writeFile(other, JSON.stringify(deploymentRecord("0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512")));
    const deployments = path.join(dir, "deployments");
    const env = { METERLINE_HOME: home, METERLINE_DEPLOYMENTS_DIR: deployments };

    const fromStack = resolveDeploymentFile(31337, rpc, env);
    expect(fromStack).to.include({ source: "stack", file: path.join(home, "deployments", "31337.json") });
    expect(fromStack.deployment?.address).to.equal("0x5FbDB2315678afecb367f032d93F642f64180aa3");

    const explicit = resolveDeploymentFile(31337, rpc, { ...env, METERLINE_DEPLOYMENT: other });
    expect(explicit).to.include({ source: "METERLINE_DEPLOYMENT", file: other });
    expect(explicit.deployment?.address).to.equal("0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512");

    // Another chain endpoint (or the in-process network) is not the stack's: its own record, absent here.
    const elsewhere = resolveDeploymentFile(31337, "http://127.0.0.1:8545", env);
    expect(elsewhere).to.deep.equal({ source: "deployments", file: path.join(deployments, "31337.json"), deployment: undefined });
    expect(resolveDeploymentFile(31337, undefined, env).source).to.equal("deployments");
  });
});

describe("ports and log format", function () {
  this.timeout(60_000);

  it("names the variable of a taken port, and lets a free one (or 0) pass", async function () {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    const port = (server.address() as { port: number }).port;
    try {
      const err = await assertPortFree("127.0.0.1", port, "METERLINE_API_PORT").catch((e: unknown) => e);
      expect(err).to.be.instanceOf(PortInUseError);
      expect((err as Error).message).to.equal(`port ${port} is in use: set METERLINE_API_PORT to a free port (0 picks one)`);
      await assertPortFree("127.0.0.1", 0, "METERLINE_API_PORT");
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await assertPortFree("127.0.0.1", port, "METERLINE_API_PORT");
  });

  it("parses LOG_FORMAT once, naming the variable", function () {
    expect(logFormatFromEnv({})).to.equal(undefined);
    expect(logFormatFromEnv({ LOG_FORMAT: "json" })).to.equal("json");
    expect(() => logFormatFromEnv({ LOG_FORMAT: "xml" })).to.throw(LogConfigError, /^LOG_FORMAT: one of json, pretty/);
  });

  /** One log line from each factory, on a pseudo-terminal (`script`) or a pipe. */
  function logLine(factory: "db" | "reporter", terminal: boolean, env: Record<string, string> = {}): string {
    const code =
      factory === "db"
        ? `require("./db/logger").createLogger({ service: "probe", level: process.env.LOG_LEVEL || "info", format: require("./db/logger").logFormatFromEnv(process.env) }).info({ n: 1 }, "hello")`
        : `const l = require("./reporter/logger"); l.createReporterLogger("probe", l.reporterLogSettings(process.env)).info({ n: 1 }, "hello")`;
    const cmd = `${JSON.stringify(process.execPath)} --import tsx -e ${JSON.stringify(code)}${factory === "reporter" ? " 2>&1" : ""}`;
    const options = { cwd: ROOT, env: { ...process.env, LOG_FORMAT: "", LOG_LEVEL: "", ...env } };
    // `script` gives the command a terminal; without it, output goes to a pipe.
    return terminal ? execFileSync("script", ["-qec", cmd, "/dev/null"], options).toString() : execFileSync("sh", ["-c", cmd], options).toString();
  }

  for (const factory of ["db", "reporter"] as const) {
    it(`${factory === "db" ? "services" : "the reporter"}: pretty on a terminal, JSON on a pipe, LOG_FORMAT overrides`, function () {
      const isJson = (out: string) => {
        const line = out.trim().split(/\r?\n/).at(-1)!;
        try {
          return (JSON.parse(line) as { msg?: string }).msg === "hello";
        } catch {
          return false;
        }
      };
      const pipe = logLine(factory, false);
      expect(isJson(pipe), pipe).to.equal(true);
      const tty = logLine(factory, true);
      expect(isJson(tty), tty).to.equal(false);
      expect(tty).to.match(/INFO.*hello/);
      expect(isJson(logLine(factory, true, { LOG_FORMAT: "json" }))).to.equal(true);
      expect(logLine(factory, false, { LOG_FORMAT: "pretty" })).to.match(/INFO.*hello/);
      expect(logLine(factory, false, { LOG_LEVEL: "warn" }).trim()).to.equal("");
    });
  }
});
