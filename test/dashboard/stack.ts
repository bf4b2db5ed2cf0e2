import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";

const ROOT = path.join(__dirname, "..", "..");
const READY = /^Meterline ready: graphql=(\S+) issuer=(\S+) rpc=(\S+)$/m;
const DASHBOARD = /^Dashboard: (\S+)/m;
const PASSWORD = /e\.g\. user \S+, password (\S+)/;

export interface DashboardStack {
  graphql: string;
  issuer: string;
  rpc: string;
  dashboard: string;
  password: string;
  home: string;
  output(): string;
  /** A demo access token, as `npm run token` prints it. */
  token(tenant: string, role: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * `npm start` as the README runs it, on free ports (0), in its own home and process group; resolves
 * at the ready line with what it printed (URLs, the dashboard and its demo password).
 */
export async function startDashboardStack(home: string, fresh = true): Promise<DashboardStack> {
  const env = {
    ...process.env,
    METERLINE_HOME: home,
    METERLINE_RPC_PORT: "0",
    METERLINE_IDP_PORT: "0",
    METERLINE_API_PORT: "0",
    METERLINE_DEMO_INTERVAL_MS: "2000",
  };
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "stack", "cli.ts"), ...(fresh ? ["--fresh"] : [])], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    process.kill(-child.pid!, "SIGINT");
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // Already gone.
      }
    }, 30_000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 180_000;
  while (!READY.test(out) || !PASSWORD.test(out)) {
    if (child.exitCode !== null) throw new Error(`npm start exited early:\n${out}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`npm start was not ready in 180 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const [, graphql, issuer, rpc] = READY.exec(out)!;
  return {
    graphql: graphql!,
    issuer: issuer!,
    rpc: rpc!,
    dashboard: DASHBOARD.exec(out)![1]!,
    password: PASSWORD.exec(out)![1]!,
    home,
    output: () => out,
    async token(tenant, role) {
      const p = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "stack", "token.ts"), "--tenant", tenant, "--role", role], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
      let text = "";
      p.stdout!.on("data", (d: Buffer) => (text += d.toString()));
      p.stderr!.on("data", (d: Buffer) => (text += d.toString()));
      const code = await new Promise<number | null>((resolve) => p.once("exit", resolve));
      if (code !== 0) throw new Error(`npm run token failed: ${text}`);
      return text.trim().split("\n").at(-1)!;
    },
    stop,
  };
}
