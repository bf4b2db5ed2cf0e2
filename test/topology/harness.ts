/**
 * The production topology on one machine, every part its own OS process: a chain (Hardhat's
 * in-process network served over HTTP), two indexers (one active, one standby), billing, webhook
 * delivery and two API replicas behind nginx, against the real PostgreSQL with each service as its
 * least-privilege role, and the OIDC provider in the test process. Shared by the topology test and
 * `npm run chaos:topology`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import type { Address, Hex } from "viem";
import { toHex } from "viem";
import { randomBytes } from "node:crypto";
import { keyedNaming, parseNameKey } from "../../chain/naming";
import { deployDemo, devAccount, recordDemoNames, type DemoTenant } from "../../stack/demo";
import { applySeed, seedSchema } from "../../stack/seed/apply-seed";
import { startLocalIdp, type LocalIdp } from "../../stack/local-idp";
import { createTestDatabase, openAsRole, urlAsRole, type TestDatabase } from "../helpers/database";
import { ROOT, spawnService, type ServiceProcess } from "../helpers/process";
import { serveChain, type ChainServer } from "../indexer/helpers/chain";

export const AUDIENCE = "https://api.meterline.topology";
// Each tenant's name key: names go on chain as keyed hashes, as in production.
const NAME_KEYS: Record<string, Hex> = { acme: toHex(randomBytes(32)), globex: toHex(randomBytes(32)) };
export const TENANTS: readonly DemoTenant[] = [
  { slug: "acme", meters: ["api_calls"], reporterIndex: 1, naming: keyedNaming(parseNameKey(NAME_KEYS.acme!)) },
  { slug: "globex", meters: ["api_calls"], reporterIndex: 2, naming: keyedNaming(parseNameKey(NAME_KEYS.globex!)) },
];

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** nginx from Debian's package, on its own prefix and port, in front of the API replicas. */
export interface Nginx {
  url: string;
  stop(): Promise<void>;
}

export async function startNginx(upstreams: readonly number[], dir: string): Promise<Nginx> {
  const port = await freePort();
  const prefix = path.join(dir, "nginx");
  mkdirSync(path.join(prefix, "logs"), { recursive: true });
  const conf = path.join(prefix, "nginx.conf");
  writeFileSync(
    conf,
    `daemon off;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  upstream api {
${upstreams.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=5s;`).join("\n")}
    keepalive 16;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://api;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_buffering off;
      proxy_read_timeout 60s;
      proxy_connect_timeout 2s;
      # A replica that dies mid-request is retried on the other one (idempotent or not: GraphQL
      # reads are safe, and a mutation that never reached the dead replica never ran).
      proxy_next_upstream error timeout http_502 http_503 non_idempotent;
    }
  }
}
`,
  );
  // Debian puts nginx in /usr/sbin, which a non-root PATH may lack.
  const bin = existsSync("/usr/sbin/nginx") ? "/usr/sbin/nginx" : "nginx";
  const proc: ChildProcess = spawn(bin, ["-p", prefix, "-c", conf], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`nginx exited: ${out}`);
    try {
      await fetch(url);
      break;
    } catch {
      if (i > 100) throw new Error(`nginx did not start: ${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    async stop() {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      await exited;
    },
  };
}

export interface Topology {
  db: TestDatabase;
  chain: ChainServer;
  meter: Address;
  deployBlock: number;
  idp: LocalIdp;
  nginx: Nginx;
  dir: string;
  apiPorts: number[];
  /** Named processes, e.g. "indexer-a", "api-1"; replaced when restarted. */
  services: Map<string, ServiceProcess>;
  start(name: ServiceName): Promise<ServiceProcess>;
  kill(name: string, signal?: NodeJS.Signals): Promise<void>;
  token(tenant: string, role: string): Promise<string>;
  gql(token: string, query: string, variables?: Record<string, unknown>): Promise<{ status: number; body: { data?: Record<string, unknown> | null; errors?: Array<{ message: string }> } }>;
  /** Submits usage through the reporter client, as its own process (commit, reveal, journal). */
  report(tenant: DemoTenant, rows: Array<{ meter: string; periodStart: number; periodEnd: number; quantity: number; ref?: Hex }>): Promise<void>;
  opsUrl(name: string): Promise<string>;
  close(): Promise<void>;
}

export type ServiceName = `indexer-${string}` | "billing" | "webhooks" | `api-${number}`;

export interface TopologyOptions {
  /** Share the API's rate limits through Redis (needs REDIS_URL support in the API). */
  redisUrl?: string;
  /** A PostgreSQL server of its own (chaos restarts it); default: the shared test server. */
  serverUrl?: string;
  extraApiEnv?: Record<string, string>;
  extraWebhookEnv?: Record<string, string>;
  /** Leave billing stopped after start-up (chaos starts it when it wants finalization to run). */
  withoutBilling?: boolean;
}

export async function startTopology(hre: HardhatRuntimeEnvironment, options: TopologyOptions = {}): Promise<Topology> {
  const dir = mkdtempSync(path.join(tmpdir(), "meterline-topology-"));
  const db = await createTestDatabase(options.serverUrl ? { serverUrl: options.serverUrl } : {});
  const chain = await serveChain(hre);
  // Blocks keep coming without transactions, as on a real chain: reveals wait for their delay.
  await hre.network.provider.send("evm_setIntervalMining", [250]);
  const artifact = await hre.artifacts.readArtifact("UsageMeter");
  const deployment = await deployDemo(hre.network.provider as unknown as Parameters<typeof deployDemo>[0], artifact.bytecode as Hex, TENANTS, path.join(dir, "deployments"));

  const idp = await startLocalIdp({
    audience: AUDIENCE,
    clients: TENANTS.flatMap((t) =>
      ["viewer", "admin", "operator", "auditor"].map((role) => ({ clientId: `${t.slug}-${role}`, clientSecret: `secret-${t.slug}-${role}`, tenant: t.slug, roles: [role] })),
    ),
  });
  // The platform records what each on-chain name hash stands for (never the key).
  await recordDemoNames(db.pool, TENANTS);
  const apiPorts = [await freePort(), await freePort()];
  const services = new Map<string, ServiceProcess>();

  const common = { LOG_LEVEL: "info", METRICS_PORT: "0", METRICS_HOST: "127.0.0.1" };
  const envOf = (name: ServiceName): { script: string; env: Record<string, string> } => {
    if (name.startsWith("indexer-")) {
      return {
        script: "indexer/cli.ts",
        env: {
          ...common,
          DATABASE_URL: urlAsRole(db.url, "meterline_indexer"),
          RPC_URL: chain.url,
          CHAIN_ID: String(deployment.chainId),
          CONTRACT_ADDRESS: deployment.address,
          DEPLOY_BLOCK: String(deployment.deployBlock),
          CONFIRMATIONS: "0",
          POLL_INTERVAL_MS: "200",
          LEASE_TTL_MS: "2000",
        },
      };
    }
    if (name === "billing") {
      return {
        script: "billing/cli.ts",
        env: { ...common, DATABASE_URL: urlAsRole(db.url, "meterline_billing"), BILLING_INTERVAL_MS: "300", BILLING_GRACE_MS: "0", CONFIRMATIONS: "0", LEASE_TTL_MS: "2000" },
      };
    }
    if (name === "webhooks") {
      return {
        script: "webhooks/cli.ts",
        env: { ...common, DATABASE_URL: urlAsRole(db.url, "meterline_webhooks"), WEBHOOK_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString("base64")}`, ...options.extraWebhookEnv },
      };
    }
    const replica = Number(name.slice("api-".length));
    return {
      script: "api/cli.ts",
      env: {
        ...common,
        NODE_ENV: "production",
        HOST: "127.0.0.1",
        PORT: String(apiPorts[replica - 1]),
        DATABASE_URL: urlAsRole(db.url, "meterline_api"),
        OIDC_ISSUER: idp.issuer,
        OIDC_AUDIENCE: AUDIENCE,
        WEBHOOK_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString("base64")}`,
        TRUSTED_PROXIES: "127.0.0.1/32",
        ...(options.redisUrl ? { RATE_LIMIT_STORE: "redis", REDIS_URL: options.redisUrl } : {}),
        ...options.extraApiEnv,
      },
    };
  };
  const readyPattern = (name: string): RegExp =>
    name.startsWith("api-") ? /api listening/ : name.startsWith("indexer-") ? /writer lease acquired|standing by/ : /"msg":"ops listener"/;

  const topology: Topology = {
    db,
    chain,
    meter: deployment.address,
    deployBlock: deployment.deployBlock,
    idp,
    nginx: undefined as unknown as Nginx,
    dir,
    apiPorts,
    services,
    async start(name) {
      const { script, env } = envOf(name);
      const p = spawnService(script, [], env);
      services.set(name, p);
      await p.waitFor(readyPattern(name), 60_000);
      return p;
    },
    async kill(name, signal = "SIGKILL") {
      const p = services.get(name);
      if (p) await p.stop(signal);
    },
    token: (tenant, role) => idp.getToken(`${tenant}-${role}`, `secret-${tenant}-${role}`),
    async gql(token, query, variables = {}) {
      const res = await fetch(`${topology.nginx.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables }),
      });
      const text = await res.text();
      let body: { data?: Record<string, unknown> | null; errors?: Array<{ message: string }> };
      try {
        body = JSON.parse(text) as typeof body;
      } catch {
        body = { errors: [{ message: `not JSON (${res.status}): ${text.slice(0, 200)}` }] };
      }
      return { status: res.status, body };
    },
    async report(tenant, rows) {
      const input = path.join(dir, `usage-${tenant.slug}-${Date.now()}-${Math.random().toString(36).slice(2)}.jsonl`);
      writeFileSync(
        input,
        rows
          .map((r, i) =>
            JSON.stringify({
              tenant: tenant.slug,
              meter: r.meter,
              periodStart: r.periodStart,
              periodEnd: r.periodEnd,
              quantity: r.quantity,
              ...(r.ref ? { ref: r.ref } : { sourceId: `${input}#${i}` }),
            }),
          )
          .join("\n") + "\n",
      );
      const account = devAccount(tenant.reporterIndex);
      const key = toHex(account.getHdKey().privateKey!);
      const p = spawnService("reporter/cli.ts", ["--input", input, "--meter", deployment.address, "--rpc", chain.url, "--journal", path.join(dir, `journal-${tenant.slug}`)], {
        METERLINE_REPORTER_KEY: key,
        METERLINE_NAME_KEY: NAME_KEYS[tenant.slug]!,
        METERLINE_REPORTER_POLL_MS: "100",
        LOG_LEVEL: "warn",
      });
      const { code } = await p.exited;
      if (code !== 0) throw new Error(`reporter exited ${code}: ${p.output().slice(-2000)}`);
    },
    async opsUrl(name) {
      const p = services.get(name);
      if (!p) throw new Error(`no service ${name}`);
      await p.waitFor(/"msg":"ops listener"/, 30_000);
      const m = [...p.output().matchAll(/"msg":"ops listener"[^\n]*?"url":"(http:\/\/[^"]+)"|"url":"(http:\/\/[^"]+)"[^\n]*?"msg":"ops listener"/g)].at(-1);
      const url = m?.[1] ?? m?.[2];
      if (!url) throw new Error(`${name} printed no ops listener url`);
      return url;
    },
    async close() {
      for (const p of services.values()) await p.stop("SIGKILL");
      await topology.nginx?.stop();
      await idp.close();
      await hre.network.provider.send("evm_setIntervalMining", [0]);
      await chain.close();
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    await topology.start("indexer-a");
    await topology.start("indexer-b");
    // The catalog is the platform's: plans and prices go in through the billing service's own
    // functions, once the indexer has seen the tenants register on chain.
    for (let i = 0; ; i++) {
      const { rows } = await db.pool.query<{ n: string }>("SELECT count(*) AS n FROM tenants");
      if (Number(rows[0]!.n) >= TENANTS.length) break;
      if (i > 300) throw new Error("the indexer never indexed the tenants");
      await new Promise((r) => setTimeout(r, 100));
    }
    const billingDb = await openAsRole(db, "meterline_billing");
    try {
      await applySeed(
        billingDb,
        seedSchema.parse({
          tenants: TENANTS.map((t) => ({
            slug: t.slug,
            meters: t.meters.map((m) => ({ name: m, aggregation: "SUM", displayName: "API calls" })),
            plan: { name: `${t.slug}-plan`, versions: [{ currency: "USD", prices: t.meters.map((m) => ({ meter: m, model: "per_unit", unitPrice: "0.01" })) }] },
          })),
        }),
        { now: new Date(Date.now() - 100 * 86_400_000) },
      );
    } finally {
      await billingDb.close();
    }
    if (!options.withoutBilling) await topology.start("billing");
    await topology.start("webhooks");
    await topology.start("api-1");
    await topology.start("api-2");
    topology.nginx = await startNginx(apiPorts, dir);
  } catch (err) {
    await topology.close().catch(() => undefined);
    throw err;
  }
  return topology;
}

/** Start of the previous calendar month (UTC), in unix seconds. */
export function lastMonthStart(now = new Date()): number {
  return Math.floor(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1) / 1000);
}

export { ROOT };
