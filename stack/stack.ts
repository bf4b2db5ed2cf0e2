import { rm } from "node:fs/promises";
import path from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { TASK_NODE_CREATE_SERVER } from "hardhat/builtin-tasks/task-names";
import type { Logger } from "pino";
import type { EIP1193Provider, Hex, RpcBlock } from "viem";
import { openDatabase, type Database } from "../db/connection";
import { migrate } from "../db/migrate";
import { applySeed, loadSeedFile } from "./seed/apply-seed";
import { periodContaining } from "../rating/periods";
import { parseIndexerConfig, startIndexer, type IndexerHandle } from "../indexer";
import { billingConfigFromEnv, openAnchorChain, runAnchoringOnce, startBillingWorker, type BillingWorker } from "../billing";
import { webhookConfigFromEnv } from "../webhooks/config";
import { startWebhookWorker, type WebhookWorker } from "../webhooks/worker";
import { parseApiConfig } from "../api/config";
import { startApi, type RunningApi } from "../api";
import { parseDashboardConfig } from "../api/http/dashboard";
import { startLocalIdp, type LocalIdp } from "./local-idp";
import { deploymentsDir as defaultDeploymentsDir, deploymentPath, findDeployment, type Deployment } from "../chain/deployment";
import { ChainJournal, ChainReplayError, recordingProvider } from "./chain-journal";
import type { StackConfig } from "./config";
import { DEMO_BILLER_INDEX, deployDemo, devPrivateKey, recordDemoNames, startDemoReporter, withDemoNameKeys, type DemoReporter, type DemoTenant } from "./demo";
import { DEMO_PLATFORM_USER, demoClients, demoPassword, demoWebhookKey, readStackState, writeStackState, type StackState } from "./state";

/** Resource indicator of the API (oidc-provider wants an absolute URI). */
export const API_AUDIENCE = "https://api.meterline.local";

export interface RunningStack {
  rpc: string;
  issuer: string;
  graphql: string | null;
  state: StackState;
  /** Stops every component in reverse start order; safe to call twice. */
  stop(): Promise<void>;
}

export class StackStartError extends Error {
  override name = "StackStartError";
}

type Provider = Pick<EIP1193Provider, "request">;
interface NodeServer {
  listen(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}

function rpc<T>(provider: Provider, method: string, params: unknown[] = []): Promise<T> {
  return (provider.request as (a: { method: string; params: unknown[] }) => Promise<T>)({ method, params });
}

/** The first billing period of the demo tenants: last month, in each tenant's time zone. */
export function demoFirstPeriod(now: Date, timeZone: string): Date {
  return periodContaining(new Date(periodContaining(now, timeZone).start.getTime() - 86_400_000), timeZone).start;
}

/** Genesis of a new demo chain: three days before the earliest first period in any time zone. */
export function demoGenesisDate(now: Date): Date {
  const lastMonthUtc = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  return new Date(lastMonthUtc.getTime() - 3 * 86_400_000);
}

/** `--fresh`: forget the recorded chain, database, journals and the local deployment record. */
export async function resetStackState(config: Pick<StackConfig, "home" | "deploymentsDir">): Promise<void> {
  await rm(config.home, { recursive: true, force: true });
  await rm(deploymentPath(31337, config.deploymentsDir ?? defaultDeploymentsDir()), { force: true });
}

/**
 * The whole local stack in one process: in-process Hardhat chain behind a JSON-RPC server,
 * UsageMeter with demo tenants, embedded PGlite, local IdP, indexer, billing worker, API and a
 * demo reporter. Components share one database handle. State lives in `config.home`.
 */
export async function startStack(config: StackConfig, deps: { hre: HardhatRuntimeEnvironment; logger: Logger }): Promise<RunningStack> {
  const { hre, logger } = deps;
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    while (stops.length > 0) {
      const stop = stops.pop()!;
      await stop().catch((err: unknown) => logger.error({ err: (err as Error).message }, "error while stopping"));
    }
  };
  try {
    const deploymentsDir = config.deploymentsDir ?? defaultDeploymentsDir();
    const chainJournal = new ChainJournal(path.join(config.home, "chain"));
    if (config.fresh) await resetStackState(config);

    // 1. Chain: same genesis date as the recorded chain, then replay its blocks.
    const meta = await chainJournal.meta();
    const networkConfig = hre.config.networks.hardhat;
    // A new demo chain starts before last month, so the platform configures plans and subscriptions
    // ahead of the periods they bill (as it must: versions only take effect in the future); once the
    // demo is seeded, chain time jumps to the wall clock.
    networkConfig.initialDate = meta ? meta.initialDate : demoGenesisDate(new Date()).toISOString();
    const provider = hre.network.provider as unknown as Provider;
    const genesis = await rpc<RpcBlock>(provider, "eth_getBlockByNumber", ["0x0", false]);
    const chainId = Number(await rpc<Hex>(provider, "eth_chainId"));
    let deployment: Deployment | undefined;
    if (meta) {
      if (genesis.hash !== meta.genesisHash) {
        throw new ChainReplayError(`the in-process chain's genesis differs from the recorded one (${meta.genesisHash})`);
      }
      const started = Date.now();
      const replayed = await chainJournal.replay(provider);
      logger.info({ blocks: replayed, ms: Date.now() - started }, "chain replayed");
      // Replay restored the old timestamps; one empty block brings chain time back to the wall
      // clock, so new usage periods and billing periods line up with real time.
      const head = await rpc<RpcBlock>(provider, "eth_getBlockByNumber", ["latest", false]);
      const now = Math.floor(Date.now() / 1000);
      if (now > Number(head.timestamp)) {
        await rpc(provider, "evm_setNextBlockTimestamp", [now]);
        await rpc(provider, "evm_mine");
        await chainJournal.sync(provider);
      }
      deployment = findDeployment(chainId, deploymentsDir);
      if (!deployment || (await rpc<Hex>(provider, "eth_getCode", [deployment.address, "latest"])) === "0x") {
        throw new ChainReplayError(`no UsageMeter at the recorded deployment (${deploymentPath(chainId, deploymentsDir)})`);
      }
    } else {
      await chainJournal.writeMeta({ initialDate: String(networkConfig.initialDate), genesisHash: genesis.hash!, chainId });
    }

    // From here on every block is journaled before the request that mined it returns.
    const recorded = recordingProvider(provider, chainJournal);
    const server = (await hre.run(TASK_NODE_CREATE_SERVER, { hostname: config.host, port: config.rpcPort, provider: recorded })) as NodeServer;
    const { port: rpcPort } = await server.listen();
    const rpcUrl = `http://${config.host}:${rpcPort}`;
    stops.push(() => server.close());

    // Also poll, for blocks mined by requests that bypass the recording view.
    const recorder = setInterval(() => {
      chainJournal.sync(provider).catch((err: unknown) => logger.error({ err: (err as Error).message }, "chain journal write failed"));
    }, 250);
    stops.push(async () => {
      clearInterval(recorder);
      await chainJournal.sync(provider);
    });

    // 2. Contract and demo tenants, on a brand-new chain only.
    const seed = await loadSeedFile();
    const newChain = !deployment;
    // Demo name keys live in the home: the chain carries only keyed hashes of the names.
    const tenants: DemoTenant[] = await withDemoNameKeys(
      config.home,
      seed.tenants.map((t, i) => ({ slug: t.slug, meters: t.meters.map((m) => m.name), reporterIndex: i + 1 })),
      newChain,
    );
    if (!deployment) {
      // A clean clone has no artifacts yet; compile is a no-op when they are current.
      await hre.run("compile", { quiet: true });
      const artifact = await hre.artifacts.readArtifact("UsageMeter");
      if ((artifact.deployedBytecode.length - 2) / 2 > 24_576) {
        throw new StackStartError(
          "artifacts/UsageMeter.json is larger than the EIP-170 limit: it looks instrumented by `hardhat coverage`; run `npx hardhat compile --force`",
        );
      }
      const anchorArtifact = await hre.artifacts.readArtifact("InvoiceAnchor");
      deployment = await deployDemo(recorded, artifact.bytecode as Hex, tenants, config.deploymentsDir, anchorArtifact.bytecode as Hex);
      await chainJournal.sync(provider);
      logger.info({ address: deployment.address, anchor: deployment.anchor?.address }, "UsageMeter and InvoiceAnchor deployed with demo tenants");
    }

    // 3. Database.
    const db: Database = await openDatabase({ target: { kind: "pglite", dataDir: path.join(config.home, "pglite") }, applicationName: "meterline-stack" });
    stops.push(() => db.close());
    await migrate(db.pool);
    // Before the indexer starts, so it labels the demo tenants and meters with their names.
    await recordDemoNames(db.pool, tenants);

    // 4. Identity provider with one client per tenant and role.
    const previous = await readStackState(config.home).catch(() => undefined);
    const clients = demoClients(tenants.map((t) => t.slug), previous?.clients);
    const webhookKey = demoWebhookKey(previous);
    // People sign in to the dashboard as <tenant>-<role> (or platform-admin), one shared dev password.
    const password = demoPassword(previous);
    const users = [
      ...clients.map((c) => ({ username: `${c.tenant}-${c.role}`, password, tenant: c.tenant, roles: [c.role] })),
      { ...DEMO_PLATFORM_USER, password },
    ];
    const idp: LocalIdp = await startLocalIdp({
      host: config.host,
      port: config.idpPort,
      audience: API_AUDIENCE,
      clients: clients.map((c) => ({ clientId: c.clientId, clientSecret: c.clientSecret, tenant: c.tenant, roles: [c.role] })),
      users,
    });
    stops.push(() => idp.close());

    // 5. Indexer and billing on the shared handle.
    const indexerConfig = parseIndexerConfig({
      RPC_URL: rpcUrl,
      // Hardhat's node serves WebSocket on the same port: new heads arrive pushed, not polled.
      WS_RPC_URL: rpcUrl.replace(/^http/, "ws"),
      CHAIN_ID: String(chainId),
      CONTRACT_ADDRESS: deployment.address,
      DEPLOY_BLOCK: String(deployment.deployBlock),
      // The demo chain mines only on transactions; one confirmation keeps the numbers fresh.
      CONFIRMATIONS: "1",
      POLL_INTERVAL_MS: "500",
      METRICS_PORT: "off",
      LOG_LEVEL: config.logLevel,
    });
    const indexer: IndexerHandle = await startIndexer(indexerConfig, { db, logger });
    stops.push(() => indexer.stop());
    indexer.done.catch((err: unknown) => logger.error({ err: (err as Error).message }, "indexer stopped with an error"));

    // A short grace lets the demo finalize last month's invoice right away (the tour verifies it).
    // Billing anchors with dev account DEMO_BILLER_INDEX, which holds the anchor's BILLER_ROLE.
    const anchoringEnv = deployment.anchor
      ? { BILLING_SIGNER_KEY: devPrivateKey(DEMO_BILLER_INDEX), RPC_URL: rpcUrl, ANCHOR_ADDRESS: deployment.anchor.address, ANCHOR_CONFIRMATIONS: "1" }
      : {};
    if (!deployment.anchor) logger.warn("this recorded chain has no InvoiceAnchor: billing does not anchor (npm start -- --fresh deploys one)");
    const billingConfig = billingConfigFromEnv({ BILLING_INTERVAL_MS: "5000", BILLING_GRACE_MS: "60000", CONFIRMATIONS: "1", ...anchoringEnv });
    const anchoring = billingConfig.anchoring;
    const billingLogger = logger.child({ component: "billing" });
    const billing: BillingWorker = startBillingWorker(billingConfig, {
      db,
      logger: billingLogger,
      ...(anchoring ? { openAnchor: () => openAnchorChain(anchoring) } : {}),
    });
    stops.push(() => billing.stop());
    const webhooks: WebhookWorker = startWebhookWorker(webhookConfigFromEnv({ WEBHOOK_ENCRYPTION_KEY: webhookKey, WEBHOOK_ALLOW_LOOPBACK_HTTP: "true" }), {
      db,
      logger: logger.child({ component: "webhooks" }),
    });
    stops.push(() => webhooks.stop());

    // 6. API with GraphiQL.
    const apiConfig = parseApiConfig({
      NODE_ENV: "development",
      HOST: config.host,
      PORT: String(config.apiPort),
      OIDC_ISSUER: idp.issuer,
      OIDC_AUDIENCE: API_AUDIENCE,
      GRAPHIQL: "true",
      INTROSPECTION: "true",
      WEBHOOK_ENCRYPTION_KEY: webhookKey,
      // The demo is a development setup: receivers on this machine (http://127.0.0.1) are allowed.
      WEBHOOK_ALLOW_LOOPBACK_HTTP: "true",
    });
    // The dashboard at the API's `/`, verifying against this chain's UsageMeter and trusting only
    // this deployment's InvoiceAnchor (a recorded chain without one leaves the anchor check failing).
    const dashboard = parseDashboardConfig(
      {
        DASHBOARD_RPC_URL: rpcUrl,
        DASHBOARD_CHAIN_ID: String(chainId),
        DASHBOARD_METER_ADDRESS: deployment.address,
        ...(deployment.anchor ? { DASHBOARD_ANCHOR_ADDRESS: deployment.anchor.address } : {}),
      },
      apiConfig,
    );
    const api: RunningApi = await startApi(apiConfig, {
      db,
      logger,
      ...(dashboard ? { dashboard } : {}),
      chainHead: async () => BigInt(await rpc<Hex>(provider, "eth_blockNumber")),
    });
    stops.push(() => api.close());
    const dashboardUrl = `${api.url.replace(/\/$/, "")}/`;
    if (dashboard) {
      idp.addPublicClient({
        clientId: dashboard.config.oidc.clientId,
        redirectUris: [dashboardUrl],
        postLogoutRedirectUris: [dashboardUrl, `${dashboardUrl}?signed-out`],
      });
    }
    const graphql = `${api.url.replace(/\/$/, "")}/graphql`.replace(/\/graphql\/graphql$/, "/graphql");

    // 7. Billing configuration, once the indexer has seen the tenants and meters, as of chain time;
    // then chain time catches up with the wall clock.
    const chainNow = new Date(Number((await rpc<RpcBlock>(provider, "eth_getBlockByNumber", ["latest", false])).timestamp) * 1000);
    await applySeed(db, seed, { now: chainNow, firstPeriodStart: (tz) => demoFirstPeriod(new Date(), tz), waitMs: 45_000, pollMs: 250 });
    // The plan versions are published on InvoiceAnchor while they are still in the future.
    if (anchoring) {
      const r = await runAnchoringOnce(db, await openAnchorChain(anchoring), { confirmations: anchoring.confirmations, receiptTimeoutMs: 10_000, logger: billingLogger });
      const plans = r.anchored.filter((a) => a.kind === "plan").length;
      if (r.unanchorable.length > 0 || r.failures.length > 0) logger.warn({ unanchorable: r.unanchorable, failures: r.failures }, "plan anchoring incomplete");
      else logger.info({ plans }, "plan versions anchored before they take effect");
    }
    const wallClock = Math.floor(Date.now() / 1000);
    if (wallClock > chainNow.getTime() / 1000 + 60) {
      await rpc(recorded, "evm_setNextBlockTimestamp", [wallClock]);
      await rpc(recorded, "evm_mine");
      await chainJournal.sync(provider);
    }

    // 8. Demo reporter.
    const demo: DemoReporter = await startDemoReporter({
      provider: recorded,
      meter: deployment.address,
      tenants,
      journalDir: path.join(config.home, "reporter-journal"),
      intervalMs: config.demoIntervalMs,
      // On a new chain, also report some of last month's usage, so a finalized invoice exists.
      previousMonth: newChain,
      logger: logger.child({ component: "demo-reporter" }),
    });
    stops.push(() => demo.stop());

    const state: StackState = {
      rpc: rpcUrl,
      chainId,
      deploymentFile: deploymentPath(chainId, deploymentsDir),
      graphql,
      issuer: idp.issuer,
      pid: process.pid,
      startedAt: new Date().toISOString(),
      audience: API_AUDIENCE,
      meter: deployment.address,
      ...(deployment.anchor ? { anchor: deployment.anchor.address } : {}),
      clients,
      webhookKey,
      dashboard: { url: dashboardUrl, password, users: users.map((u) => u.username) },
    };
    await writeStackState(config.home, state);
    return { rpc: rpcUrl, issuer: idp.issuer, graphql, state, stop: stopAll };
  } catch (err) {
    await stopAll();
    if (err instanceof ChainReplayError) {
      throw new StackStartError(`${err.message}. Start over with: npm start -- --fresh`);
    }
    throw err;
  }
}
