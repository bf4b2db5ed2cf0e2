/**
 * Pseudonymous names end to end: `meter:tenant` registers keyed names and records the mapping;
 * nothing on chain carries the plaintext; the indexer (as its own database role) labels tenants and
 * meters from the mapping; the reporter and the verifier resolve names with the tenant's key, and
 * a wrong or missing key fails with a message that says so.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import { createPublicClient, createWalletClient, custom, stringToHex, toHex, type Address, type Hex, type PublicClient } from "viem";
import { usageMeterAbi } from "../../../chain/abi.generated";
import { writeDeployment, type Deployment } from "../../../chain/deployment";
import { keyedNaming, parseNameKey, plainNaming } from "../../../chain/naming";
import type { Database } from "../../../db/connection";
import { recordNames } from "../../../indexer/store/names";
import { InputValidationError, Journal, Reporter, mineUntil, type UsageInput } from "../../../reporter";
import type { TenantResult } from "../../../scripts/tasks/tenant";
import { readChainFacts } from "../../../verifier/chain/facts";
import { checkParties } from "../../../verifier/checks/parties";
import type { CheckContext } from "../../../verifier/checks/context";
import { trustAnchorsOf } from "../../../verifier/cli";
import { keyedNaming as verifierKeyedNaming } from "../../../verifier/naming";
import { normalizeTrust, type TrustAnchors } from "../../../verifier/trust";
import { createTestDatabase, openAsRole, TEST_SERVER_URL, type TestDatabase } from "../../helpers/database";
import { serveChain, type ChainServer } from "../../indexer/helpers/chain";
import { runIndexer } from "../../indexer/helpers/indexer";
import { waitForCheckpoint } from "../../indexer/helpers/truth";
import { parseIndexerConfig } from "../../../indexer/config";
import { hardhatAccount, silentLogger } from "../../reporter/helpers";
import { deployMeter, runTask, useTaskEnvironment } from "./support";

const KEY_VAR = "METERLINE_TEST_ACME_NAME_KEY";
const hexOf = (text: string) => stringToHex(text).slice(2);

describe("meter:tenant with --name-key: pseudonymous names on chain, mapped back off chain", function () {
  this.timeout(120_000);
  useTaskEnvironment();

  let db: TestDatabase;
  let indexerDb: Database;
  let server: ChainServer;
  let databaseUrl: string;
  let keyHex: Hex;
  let pub: PublicClient;
  let meter: Address;
  let deployBlock: bigint;
  let deployment: Deployment;
  let stopIndexer: (() => Promise<void>) | undefined;
  let journalDir: string;
  const reporter = hardhatAccount(3);

  before(async function () {
    await hre.network.provider.request({ method: "hardhat_reset", params: [] });
    db = await createTestDatabase();
    indexerDb = await openAsRole(db, "meterline_indexer");
    const u = new URL(TEST_SERVER_URL);
    u.pathname = `/${db.name}`;
    databaseUrl = u.toString();
    server = await serveChain(hre);
    pub = createPublicClient({ transport: custom(hre.network.provider) }) as PublicClient;
    journalDir = await mkdtemp(path.join(tmpdir(), "meterline-names-journal-"));
  });

  after(async function () {
    await stopIndexer?.();
    await indexerDb?.close();
    await server?.close();
    await db?.drop();
    await rm(journalDir, { recursive: true, force: true });
    delete process.env[KEY_VAR];
  });

  beforeEach(function () {
    keyHex ??= toHex(randomBytes(32));
    process.env[KEY_VAR] = keyHex;
  });

  const naming = () => keyedNaming(parseNameKey(keyHex));

  it("registers the tenant and its meters as keyed hashes, recording what they stand for before sending", async function () {
    const [admin] = await hre.ethers.getSigners();
    ({ deployment } = await deployMeter({ grantManager: admin!.address }));
    meter = deployment.address as Address;
    deployBlock = BigInt(deployment.deployBlock);

    const register = await runTask<TenantResult>("meter:tenant", { action: "register", name: "acme", nameKey: `env:${KEY_VAR}`, database: databaseUrl });
    expect(register.stderr).to.equal("");
    expect(register.exitCode).to.equal(0);
    expect(register.stdout).to.match(/^tenant 1 "acme" registered \(tx 0x[0-9a-f]{64}\)$/);
    const meters = await runTask<TenantResult>("meter:tenant", {
      action: "meters",
      tenant: "acme",
      meters: "api_calls,storage_gb",
      nameKey: `env:${KEY_VAR}`,
      database: databaseUrl,
    });
    expect(meters.exitCode, meters.stderr).to.equal(0);
    expect(meters.result).to.deep.include({ tenantId: 1, meterIds: [{ name: "api_calls", meterId: 1 }, { name: "storage_gb", meterId: 2 }] });
    const authorize = await runTask("meter:tenant", { action: "authorize", tenant: "acme", reporter: reporter.address, nameKey: `env:${KEY_VAR}` });
    expect(authorize.exitCode, authorize.stderr).to.equal(0);

    // On chain: the hashes, resolvable by whoever has the key.
    const read = <T>(functionName: "tenantIdByName" | "meterIdByName", args: readonly unknown[]) =>
      pub.readContract({ address: meter, abi: usageMeterAbi, functionName, args: args as never }) as Promise<T>;
    expect(await read<number>("tenantIdByName", [naming().onchainName("acme")])).to.equal(1);
    expect(await read<number>("tenantIdByName", [plainNaming.onchainName("acme")])).to.equal(0);
    expect(await read<number>("meterIdByName", [1, naming().onchainMeterName("storage_gb")])).to.equal(2);

    // Off chain: the mapping, without the key.
    const { rows } = await db.pool.query<{ slug: string; h: string }>("SELECT slug, '0x' || encode(onchain_name, 'hex') AS h FROM onchain_tenant_names");
    expect(rows).to.deep.equal([{ slug: "acme", h: naming().onchainName("acme") }]);
    const { rows: meterRows } = await db.pool.query<{ name: string }>("SELECT name FROM onchain_meter_names WHERE tenant_slug = 'acme' ORDER BY name");
    expect(meterRows.map((r) => r.name)).to.deep.equal(["api_calls", "storage_gb"]);
    // No column holds a key; the indexer may read the mapping, the API may not.
    const { rows: columns } = await db.pool.query<{ c: string }>(
      "SELECT table_name || '.' || column_name AS c FROM information_schema.columns WHERE table_name IN ('onchain_tenant_names', 'onchain_meter_names') ORDER BY 1",
    );
    expect(columns.map((r) => r.c)).to.deep.equal([
      "onchain_meter_names.created_at",
      "onchain_meter_names.name",
      "onchain_meter_names.onchain_name",
      "onchain_meter_names.tenant_slug",
      "onchain_tenant_names.created_at",
      "onchain_tenant_names.onchain_name",
      "onchain_tenant_names.slug",
    ]);
    const { rows: grants } = await db.pool.query(
      `SELECT r AS role, has_table_privilege(r, 'onchain_tenant_names', 'SELECT') AS tenants, has_table_privilege(r, 'onchain_meter_names', 'SELECT') AS meters
       FROM unnest(ARRAY['meterline_indexer', 'meterline_api', 'meterline_billing', 'meterline_webhooks']) AS r`,
    );
    expect(grants).to.deep.equal([
      { role: "meterline_indexer", tenants: true, meters: true },
      { role: "meterline_api", tenants: false, meters: false },
      { role: "meterline_billing", tenants: false, meters: false },
      { role: "meterline_webhooks", tenants: false, meters: false },
    ]);
  });

  it("leaves no plaintext name on chain: not in any log's topics or data, not in any transaction's calldata", async function () {
    const head = await pub.getBlockNumber();
    const logs = await pub.getLogs({ address: meter, fromBlock: deployBlock, toBlock: head });
    const registered = logs.filter((l) => l.topics[0] !== undefined);
    expect(registered.length).to.be.greaterThan(3);
    const texts: string[] = [];
    for (const log of logs) texts.push(log.data, ...log.topics.filter((t): t is Hex => t !== null));
    for (let n = deployBlock; n <= head; n++) {
      const block = await pub.getBlock({ blockNumber: n, includeTransactions: true });
      for (const tx of block.transactions) texts.push(tx.input);
    }
    const onChain = texts.join("").toLowerCase();
    for (const name of ["acme", "api_calls", "storage_gb"]) expect(onChain, name).to.not.include(hexOf(name));
    // …while the hashes are there, so the check would see names if they were written.
    expect(onChain).to.include(naming().onchainName("acme").slice(2));
  });

  it("the indexer, as meterline_indexer, labels the tenant and its meters from the recorded mapping", async function () {
    const chainId = await pub.getChainId();
    const config = parseIndexerConfig({
      RPC_URL: server.url,
      CHAIN_ID: String(chainId),
      CONTRACT_ADDRESS: meter,
      DEPLOY_BLOCK: deployBlock.toString(),
      DEPLOYMENTS_DIR: "/nonexistent-meterline-deployments",
      CONFIRMATIONS: "0",
      POLL_INTERVAL_MS: "20",
      METRICS_PORT: "off",
      LOG_LEVEL: "silent",
    });
    const indexer = await runIndexer(config, indexerDb);
    stopIndexer = () => indexer.stop();
    const head = await pub.getBlock({ blockTag: "latest" });
    await waitForCheckpoint(db.pool, { number: head.number, hash: head.hash }, 60_000);
    expect(indexer.failure()).to.equal(null);
    const { rows } = await db.pool.query<{ slug: string; h: string }>("SELECT slug, '0x' || encode(onchain_name, 'hex') AS h FROM tenants");
    expect(rows).to.deep.equal([{ slug: "acme", h: naming().onchainName("acme") }]);
    const { rows: meterRows } = await db.pool.query<{ meter_id: number; name: string }>("SELECT meter_id, name FROM meters ORDER BY meter_id");
    expect(meterRows).to.deep.equal([
      { meter_id: 1, name: "api_calls" },
      { meter_id: 2, name: "storage_gb" },
    ]);
  });

  it("a tenant indexed before its mapping was recorded shows as its hash, and recording the mapping relabels it", async function () {
    const admin = createWalletClient({ account: hardhatAccount(0), transport: custom(hre.network.provider) });
    const globex = keyedNaming(randomBytes(32));
    const send = async (functionName: "registerTenant" | "registerMeter", args: readonly unknown[]) =>
      pub.waitForTransactionReceipt({ hash: await admin.writeContract({ address: meter, abi: usageMeterAbi, functionName, args: args as never, chain: null }) });
    await send("registerTenant", [globex.onchainName("globex")]);
    await send("registerMeter", [2, globex.onchainMeterName("egress")]);
    const head = await pub.getBlock({ blockTag: "latest" });
    await waitForCheckpoint(db.pool, { number: head.number, hash: head.hash }, 60_000);
    const slugOf2 = async () => (await db.pool.query<{ slug: string }>("SELECT slug FROM tenants WHERE onchain_id = 2")).rows[0]!.slug;
    expect(await slugOf2()).to.equal(globex.onchainName("globex"));

    const recorded = await recordNames(db.pool, {
      tenant: { slug: "globex", onchainName: globex.onchainName("globex") },
      meters: [{ name: "egress", onchainName: globex.onchainMeterName("egress") }],
    });
    expect(recorded.relabelled).to.deep.equal({ tenants: 1, meters: 1 });
    expect(await slugOf2()).to.equal("globex");
    const { rows } = await db.pool.query<{ name: string }>("SELECT m.name FROM meters m JOIN tenants t ON t.id = m.tenant_id WHERE t.onchain_id = 2");
    expect(rows).to.deep.equal([{ name: "egress" }]);
    // Recording the same mapping again changes nothing; a hash recorded for another name is refused.
    expect((await recordNames(db.pool, { tenant: { slug: "globex", onchainName: globex.onchainName("globex") }, meters: [] })).relabelled).to.deep.equal({ tenants: 0, meters: 0 });
    let conflict: unknown;
    await recordNames(db.pool, { tenant: { slug: "initech", onchainName: globex.onchainName("globex") }, meters: [] }).catch((e: unknown) => (conflict = e));
    expect(String(conflict)).to.match(/already stands for tenant "globex", not "initech"/);
    // A slug has one on-chain name: a second one (another key, or a slug indexed from a plain name) is refused.
    const second = await recordNames(db.pool, { tenant: { slug: "globex", onchainName: keyedNaming(randomBytes(32)).onchainName("globex") }, meters: [] }).catch((e: unknown) => e);
    expect(String(second)).to.match(/tenant "globex" is already registered under 0x[0-9a-f]{64}/);
  });

  it("the reporter resolves the tenant and its meters by hashing its configured names with the key; without the key it says why it cannot", async function () {
    const chainId = await pub.getChainId();
    const reporterFor = async (withKey: boolean, dir: string) =>
      new Reporter({
        publicClient: pub,
        walletClient: createWalletClient({ account: reporter, transport: custom(hre.network.provider) }),
        account: reporter,
        meter,
        journal: await Journal.open(path.join(journalDir, dir), { chainId, meter, reporter: reporter.address }),
        logger: silentLogger,
        waitForBlock: mineUntil(pub),
        ...(withKey ? { naming: naming() } : {}),
      });
    const now = Number((await pub.getBlock({ blockTag: "latest" })).timestamp);
    const inputs: UsageInput[] = [
      { line: 1, tenant: { name: "acme" }, meter: { name: "storage_gb" }, periodStart: now - 60, periodEnd: now, quantity: 7n, ref: toHex(randomBytes(32)) },
    ];
    let refused: unknown;
    await (await reporterFor(false, "plain")).submit(inputs, "plain").catch((e: unknown) => (refused = e));
    expect(refused).to.be.instanceOf(InputValidationError);
    expect((refused as InputValidationError).message).to.match(/no tenant named "acme" in plain text \(set METERLINE_NAME_KEY or --name-key/);

    const keyed = await reporterFor(true, "keyed");
    await keyed.submit(inputs, "keyed");
    const revealed = await pub.getContractEvents({ address: meter, abi: usageMeterAbi, eventName: "UsageRevealed", fromBlock: deployBlock });
    expect(revealed).to.have.length(1);
    expect(Number((revealed[0]!.args as { tenantId: number }).tenantId)).to.equal(1);
  });

  it("the verifier, given --name-key, resolves the tenant on chain; a wrong key fails naming the key as the likely cause", async function () {
    const chainId = await pub.getChainId();
    const file = path.join(journalDir, "acme.key");
    await writeFile(file, `${keyHex}\n`, { mode: 0o600 });
    const base = { invoice: "unused.json", rpc: server.url, meter, anchor: meter, tenant: "acme" };
    const parties = async (anchors: TrustAnchors) => {
      const trust = normalizeTrust(anchors);
      const facts = await readChainFacts(pub, trust, {});
      const ctx = { file: { invoice: { deployment: { chainId: String(chainId), address: trust.meter }, tenant: { onchainId: 1 } } }, trust, options: {}, facts };
      return { facts, result: checkParties(ctx as unknown as CheckContext) };
    };

    const right = await parties(await trustAnchorsOf({ ...base, nameKey: `file:${file}` }));
    expect(right.facts.tenant.id).to.equal(1);
    expect(right.result.problems.join("\n")).to.not.match(/no tenant is registered/);

    const wrong = await parties({ ...base, naming: verifierKeyedNaming(randomBytes(32)) });
    expect(wrong.facts.tenant.id).to.equal(0);
    expect(wrong.result.status).to.equal("fail");
    expect(wrong.result.problems.join("\n")).to.match(/no tenant is registered on your UsageMeter under "acme" \(keyed \(HMAC-SHA256\) name 0x[0-9a-f]{64}\); check that --name-key is the key your platform gave you/);

    const none = await parties(await trustAnchorsOf(base));
    expect(none.result.problems.join("\n")).to.match(/pass the name key it gave you with --name-key/);

    let short: unknown;
    await trustAnchorsOf({ ...base, nameKey: "0x0011" }).catch((e: unknown) => (short = e));
    expect(String(short)).to.match(/VerifierError: the name key must be at least 16 bytes/);
  });

  it("refuses, changing nothing: a missing key, a key on the command line, an unset variable, a short key, a key without --database, both namings", async function () {
    // Each test has its own deployments directory: point this one at the contract again.
    writeDeployment(deployment, process.env.METERLINE_DEPLOYMENTS_DIR);
    const before = await pub.getBlockNumber();
    const tenants = await db.pool.query("SELECT count(*)::int AS n FROM onchain_tenant_names");
    process.env.METERLINE_TEST_SHORT_KEY = "0x00112233";
    process.env.METERLINE_TEST_SECOND_KEY = toHex(randomBytes(32));
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ action: "register", name: "initech" }, /^error: --name-key is required for "register" \(env:<VARIABLE> or file:<path>\)/],
      [{ action: "register", name: "initech", nameKey: keyHex, database: databaseUrl }, /^error: --name-key: give env:<VARIABLE> or file:<path>, not the key itself/],
      [{ action: "register", name: "initech", nameKey: "env:METERLINE_TEST_UNSET", database: databaseUrl }, /^error: --name-key: environment variable METERLINE_TEST_UNSET is not set$/],
      [{ action: "register", name: "initech", nameKey: "file:/nonexistent/key", database: databaseUrl }, /^error: --name-key: cannot read \/nonexistent\/key: ENOENT$/],
      [{ action: "register", name: "initech", nameKey: "env:METERLINE_TEST_SHORT_KEY", database: databaseUrl }, /^error: --name-key: the name key must be at least 16 bytes$/],
      [{ action: "register", name: "initech", nameKey: `env:${KEY_VAR}` }, /^error: --database is required with --name-key for "register"/],
      [{ action: "register", name: "initech", nameKey: `env:${KEY_VAR}`, plainNames: true }, /^error: --name-key and --plain-names exclude each other$/],
      [{ action: "register", name: "acme", nameKey: `env:${KEY_VAR}`, database: databaseUrl }, /^error: --name: "acme" is already tenant 1$/],
      // The slug under another key: on chain it would be a new tenant, in the platform a duplicate slug.
      [{ action: "register", name: "acme", nameKey: "env:METERLINE_TEST_SECOND_KEY", database: databaseUrl }, /^error: tenant "acme" is already registered under 0x[0-9a-f]{64}, not 0x[0-9a-f]{64} \(is this its name key\?\)$/],
      [{ action: "meters", tenant: "1", meters: "x", nameKey: `env:${KEY_VAR}`, database: databaseUrl }, /^error: --tenant: give the tenant's name with --name-key, not its id$/],
      [{ action: "authorize", tenant: "acme", reporter: reporter.address }, /no tenant named "acme" in plain text \(pass its --name-key/],
      [{ action: "authorize", tenant: "acme", reporter: reporter.address, nameKey: "env:METERLINE_TEST_OTHER_KEY" }, /environment variable METERLINE_TEST_OTHER_KEY is not set/],
    ];
    for (const [args, message] of cases) {
      const run = await runTask("meter:tenant", args);
      expect(run.exitCode, JSON.stringify(args)).to.equal(1);
      expect(run.stderr, JSON.stringify(args)).to.match(message);
      expect(run.stderr, "the key is never printed").to.not.include(keyHex.slice(2));
    }
    process.env.METERLINE_TEST_OTHER_KEY = toHex(randomBytes(32));
    const wrongKey = await runTask("meter:tenant", { action: "authorize", tenant: "acme", reporter: reporter.address, nameKey: "env:METERLINE_TEST_OTHER_KEY" });
    expect(wrongKey.stderr).to.equal('error: --tenant: no tenant named "acme" under this --name-key');
    delete process.env.METERLINE_TEST_OTHER_KEY;
    delete process.env.METERLINE_TEST_SHORT_KEY;
    delete process.env.METERLINE_TEST_SECOND_KEY;
    expect(await pub.getBlockNumber()).to.equal(before);
    expect((await db.pool.query("SELECT count(*)::int AS n FROM onchain_tenant_names")).rows).to.deep.equal(tenants.rows);
  });
});
