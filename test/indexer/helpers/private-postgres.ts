/**
 * A throwaway PostgreSQL 15 server (initdb into a temp dir, own port), for tests that stop and
 * restart the server — never the shared one.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";

const BIN = "/usr/lib/postgresql/15/bin";

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface PrivatePostgres {
  url: string;
  stop(): void;
  start(): void;
  destroy(): void;
}

function asPostgres(args: string[]): void {
  const cmd = args.map((a) => `'${a}'`).join(" ");
  if (process.getuid?.() === 0) execFileSync("su", ["postgres", "-c", cmd], { stdio: "ignore" });
  else execFileSync("sh", ["-c", cmd], { stdio: "ignore" });
}

/** `configure` runs after initdb, before the first start (e.g. to turn on TLS); it gets the data directory. */
export async function startPrivatePostgres(options: { configure?: (dataDir: string, asPostgres: (args: string[]) => void) => void } = {}): Promise<PrivatePostgres> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "meterline-pg-"));
  chmodSync(dir, 0o777);
  const data = path.join(dir, "data");
  const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
  if (process.getuid?.() === 0) chownSync(dir, uid, gid);
  asPostgres([`${BIN}/initdb`, "-D", data, "-U", "postgres", "--auth=trust", "--no-sync"]);
  options.configure?.(data, asPostgres);
  const port = await freePort();
  const start = () =>
    asPostgres([`${BIN}/pg_ctl`, "-D", data, "-l", path.join(dir, "log"), "-w", "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, "start"]);
  const stop = () => asPostgres([`${BIN}/pg_ctl`, "-D", data, "-m", "fast", "-w", "stop"]);
  start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start,
    stop,
    destroy() {
      try {
        stop();
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
