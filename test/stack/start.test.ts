import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { mnemonicToAccount } from "viem/accounts";
import { buildVerifier, VERIFIER_BUNDLE } from "../../scripts/build/verifier";

const ROOT = path.join(__dirname, "..", "..");
const READY = /^Meterline ready: graphql=(\S+) issuer=(\S+) rpc=(\S+)$/m;

interface Proc {
  child: ChildProcess;
  out: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs an npm script as the README says, in its own process group (like a terminal job). */
function npm(args: string[], env: Record<string, string>): Proc {
  const child = spawn("npm", args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  return {
    child,
    out: () => output,
    exited: new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal }))),
  };
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

async function graphql(url: string, token: string, query: string): Promise<{ data?: Record<string, unknown>; errors?: unknown[] }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ query }),
  });
  return (await res.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
}

/** Every log of the demo's UsageMeter and every transaction's calldata, as one lower-case hex string. */
async function chainBytes(rpc: string, meter: string): Promise<string> {
  const call = async <T>(method: string, params: unknown[]): Promise<T> => {
    const res = await fetch(rpc, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
    return ((await res.json()) as { result: T }).result;
  };
  const logs = await call<{ data: string; topics: string[] }[]>("eth_getLogs", [{ address: meter, fromBlock: "0x0", toBlock: "latest" }]);
  const head = Number(await call<string>("eth_blockNumber", []));
  const parts = logs.flatMap((l) => [l.data, ...l.topics]);
  for (let n = 0; n <= head; n++) {
    const block = await call<{ transactions: { input: string }[] }>("eth_getBlockByNumber", [`0x${n.toString(16)}`, true]);
    for (const tx of block.transactions) parts.push(tx.input);
  }
  return parts.join("").toLowerCase();
}

/**
 * The README tour's step 6: a finalized invoice exported through the API, checked by the built
 * verifier bundle run with plain node from a temp directory, with the tenant's own trust anchors
 * (RPC, UsageMeter, InvoiceAnchor, tenant name) only. Billing anchors the invoice on its next pass
 * after finalization, so the check is retried until it verifies (or the time is up).
 */
async function verifyExportedInvoice(home: string, graphqlUrl: string, token: string): Promise<void> {
  const exported = await waitFor("a finalized invoice of last month", 120_000, async () => {
    const r = await graphql(graphqlUrl, token, "{ invoices(status: FINALIZED, first: 1) { edges { node { number export } } } }");
    const edges = (r.data?.invoices as { edges: Array<{ node: { number: number; export: string | null } }> } | undefined)?.edges;
    return edges?.[0]?.node.export ?? undefined;
  });
  const state = JSON.parse(await readFile(path.join(home, "stack.json"), "utf8")) as { rpc: string; meter: string; anchor?: string };
  expect(state.anchor, "stack.json names the InvoiceAnchor").to.match(/^0x[0-9a-fA-F]{40}$/);
  await buildVerifier();
  const dir = await mkdtemp(path.join(tmpdir(), "meterline-verify-"));
  try {
    await copyFile(VERIFIER_BUNDLE, path.join(dir, "meterline-verify.mjs"));
    await writeFile(path.join(dir, "invoice.json"), exported);
    const verify = (file: string) =>
      spawnSync(process.execPath, ["meterline-verify.mjs", "--rpc", state.rpc, "--meter", state.meter, "--anchor", state.anchor!, "--tenant", "acme", "--name-key", `file:${path.join(home, "name-keys", "acme.key")}`, file], {
        cwd: dir,
        encoding: "utf8",
        env: { PATH: process.env.PATH ?? "" },
      });
    let last: ReturnType<typeof verify> | undefined;
    await waitFor("the invoice to verify (billing anchors it after finalization)", 90_000, () => {
      last = verify("invoice.json");
      return last.status === 0 ? true : undefined;
    }).catch((err: Error) => {
      err.message += `
--- verifier (exit ${last?.status}) ---
${last?.stdout}${last?.stderr}`;
      throw err;
    });
    expect(last!.stdout).to.match(/^VERIFIED$/m);
    expect(last!.stdout).to.match(/anchored/);

    // A copy with one amount changed is caught.
    const tampered = JSON.parse(exported) as { invoice: { totalMinor: string } };
    tampered.invoice.totalMinor = (BigInt(tampered.invoice.totalMinor) + 100n).toString();
    await writeFile(path.join(dir, "tampered.json"), JSON.stringify(tampered));
    const forged = verify("tampered.json");
    expect(forged.status, forged.stdout + forged.stderr).to.equal(1);
    expect(forged.stdout).to.match(/^NOT VERIFIED \(.*\)$/m);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface UsageEdge {
  node: { quantity: string; sequence: string; reporter: string; meterId: number };
}

/** `npm start` until ready, a demo token, usage the demo reporter submitted, then Ctrl-C. */
async function startQueryStop(home: string, fresh: boolean, verify = false): Promise<{ totalCount: number; readyMs: number }> {
  const env = { METERLINE_HOME: home, METERLINE_RPC_PORT: "0", METERLINE_IDP_PORT: "0", METERLINE_API_PORT: "0", METERLINE_DEMO_INTERVAL_MS: "2000" };
  const started = Date.now();
  const stack = npm(["start", "--", ...(fresh ? ["--fresh"] : [])], env);
  try {
    const ready = await waitFor("the ready line", 120_000, () => {
      if (stack.child.exitCode !== null) throw new Error(`npm start exited early:\n${stack.out()}`);
      return READY.exec(stack.out()) ?? undefined;
    });
    const readyMs = Date.now() - started;
    const [, graphqlUrl, issuer, rpc] = ready;
    expect(issuer).to.match(/^http:\/\/127\.0\.0\.1:\d+/);
    expect(rpc).to.match(/^http:\/\/127\.0\.0\.1:\d+/);

    // Pseudonymous on chain: the demo tenants and meters are registered under keyed hashes, the
    // keys stay in the home (owner-only), and the API still knows the tenants by slug (below).
    const state0 = JSON.parse(await readFile(path.join(home, "stack.json"), "utf8")) as { meter: string };
    const onChain = await chainBytes(rpc!, state0.meter);
    expect(onChain.length).to.be.greaterThan(1000);
    for (const name of ["acme", "globex", "api_calls", "storage_gb_hours", "egress_bytes"]) {
      expect(onChain, `"${name}" on chain`).to.not.include(Buffer.from(name).toString("hex"));
    }
    for (const slug of ["acme", "globex"]) {
      const key = path.join(home, "name-keys", `${slug}.key`);
      expect((await stat(key)).mode & 0o077, `${key} is owner-only`).to.equal(0);
      expect(stack.out()).to.not.contain((await readFile(key, "utf8")).trim().slice(2));
    }

    const tokenCmd = npm(["run", "--silent", "token", "--", "--tenant", "acme", "--role", "viewer"], env);
    expect((await tokenCmd.exited).code, tokenCmd.out()).to.equal(0);
    const token = tokenCmd.out().trim().split("\n").at(-1)!;
    expect(token.split(".")).to.have.length(3);

    const acmeReporter = mnemonicToAccount("test test test test test test test test test test test junk", { addressIndex: 1 }).address;
    const usage = await waitFor("demo usage in the API", 90_000, async () => {
      const r = await graphql(
        graphqlUrl!,
        token,
        "{ tenant { slug } usageRecords(first: 50) { totalCount edges { node { meterId quantity sequence reporter } } } }",
      );
      const conn = r.data?.usageRecords as { totalCount: number; edges: UsageEdge[] } | undefined;
      return conn && conn.totalCount > 0 ? { tenant: r.data!.tenant as { slug: string }, conn } : undefined;
    });
    expect(usage.tenant.slug).to.equal("acme");
    for (const e of usage.conn.edges) {
      expect(e.node.reporter.toLowerCase()).to.equal(acmeReporter.toLowerCase());
      expect(BigInt(e.node.quantity) > 0n).to.equal(true);
    }
    // Tenant isolation through the whole stack: a globex token never sees acme's records.
    const globex = npm(["run", "--silent", "token", "--", "--tenant", "globex", "--role", "viewer"], env);
    expect((await globex.exited).code).to.equal(0);
    const g = await graphql(graphqlUrl!, globex.out().trim().split("\n").at(-1)!, "{ tenant { slug } }");
    expect((g.data?.tenant as { slug: string }).slug).to.equal("globex");
    if (verify) await verifyExportedInvoice(home, graphqlUrl!, token);

    const stoppedAt = Date.now();
    process.kill(-stack.child.pid!, "SIGINT");
    const exit = await Promise.race([
      stack.exited,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no exit 30 s after SIGINT:\n${stack.out()}`)), 30_000)),
    ]);
    // Ctrl-C semantics: the whole process group gets SIGINT. npm itself then re-raises the
    // signal once its child is done, so its own status is "killed by SIGINT"; the stack process
    // prints "Meterline stopped." only on its exit-0 path, and nothing of the group survives.
    expect(exit.code === 0 || exit.signal === "SIGINT", JSON.stringify(exit)).to.equal(true);
    expect(stack.out()).to.match(/Meterline stopped\./);
    expect(stack.out()).to.not.match(/exiting without cleanup|error while stopping/);
    await waitFor("the process group to be gone", 10_000, () => {
      try {
        process.kill(-stack.child.pid!, 0);
        return undefined;
      } catch {
        return true;
      }
    });
    expect(Date.now() - stoppedAt).to.be.below(30_000);

    // Logging discipline: the structured log has the demo reporter's progress, but neither the
    // IdP client secrets nor access tokens.
    const log = await readFile(path.join(home, "stack.log"), "utf8");
    expect(log).to.match(/"msg":"revealed"/);
    if (fresh) {
      // The demo plan versions were published before chain time jumped past them.
      expect(log).to.match(/"plans":[1-9]\d*,"msg":"plan versions anchored before they take effect"/);
      expect(log).to.not.match(/plan anchoring incomplete|unanchorable/);
    }
    const state = JSON.parse(await readFile(path.join(home, "stack.json"), "utf8")) as { clients: { clientSecret: string }[] };
    for (const c of state.clients) expect(log).to.not.contain(c.clientSecret);
    expect(log).to.not.contain(token.split(".")[2]!);
    return { totalCount: usage.conn.totalCount, readyMs };
  } catch (err) {
    (err as Error).message += `\n--- npm start output ---\n${stack.out()}`;
    throw err;
  } finally {
    if (stack.child.exitCode === null && stack.child.signalCode === null) {
      try {
        process.kill(-stack.child.pid!, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }
}

describe("npm start (local stack)", function () {
  this.timeout(600_000);
  let home: string;
  let firstRunCount = 0;

  before(async function () {
    home = await mkdtemp(path.join(tmpdir(), "meterline-stack-"));
  });

  after(async function () {
    await rm(home, { recursive: true, force: true });
  });

  it("reaches the ready line, serves demo usage to a demo token, anchors last month's invoice so the tenant's verifier says VERIFIED, and stops cleanly on SIGINT", async function () {
    const { totalCount, readyMs } = await startQueryStop(home, true, true);
    expect(totalCount).to.be.greaterThan(0);
    firstRunCount = totalCount;
    // The bound is 60 s on two cores; the CI box runs other suites alongside.
    expect(readyMs).to.be.below(120_000);
  });

  it("restarts from the same state: the recorded chain is replayed and the old usage is still there", async function () {
    const { totalCount } = await startQueryStop(home, false);
    expect(totalCount).to.be.at.least(firstRunCount);
  });

  it("refuses to start on a recorded chain that no longer replays to the same hashes, suggesting --fresh", async function () {
    const file = path.join(home, "chain", "blocks.jsonl");
    const blocks = (await readFile(file, "utf8")).trim().split("\n");
    const last = JSON.parse(blocks.at(-1)!) as { timestamp: number };
    last.timestamp += 1; // a different block timestamp gives a different block hash
    blocks[blocks.length - 1] = JSON.stringify(last);
    await writeFile(file, `${blocks.join("\n")}\n`);
    const env = { METERLINE_HOME: home, METERLINE_RPC_PORT: "0", METERLINE_IDP_PORT: "0", METERLINE_API_PORT: "0" };
    const stack = npm(["start"], env);
    const exit = await stack.exited;
    expect(exit.code, stack.out()).to.equal(2);
    expect(stack.out()).to.match(/cannot be restored.*npm start -- --fresh/s);
    expect(stack.out()).to.not.match(/Meterline ready/);
  });
});
