import { expect } from "chai";
import hre from "hardhat";
import pg from "pg";
import pino from "pino";
import { startApi, type RunningApi } from "../../api";
import { parseApiConfig } from "../../api/config";
import { openDatabase, type Database } from "../../db/connection";
import { migrate } from "../../db/migrate";
import { startLocalIdp, type LocalIdp } from "../../stack/local-idp";
import { urlAsRole } from "../helpers/database";
import { makeCertificates, removeCertificates, startTlsPostgres, tlsUrl, type Certificates } from "../helpers/tls-postgres";
import { serveChain, Workload, type ChainServer } from "../indexer/helpers/chain";
import { runIndexer, testConfig } from "../indexer/helpers/indexer";
import type { PrivatePostgres } from "../indexer/helpers/private-postgres";
import { waitForCheckpoint } from "../indexer/helpers/truth";

const connect = async (url: string) => {
  const c = new pg.Client({ connectionString: url });
  c.on("error", () => undefined);
  await c.connect();
  return c;
};

/**
 * "mTLS to the database": a private PostgreSQL that accepts only TLS connections authenticated by
 * a client certificate (`hostssl … cert`). The services connect with `sslmode=verify-full`, the
 * server's CA and a client certificate in DATABASE_URL, each as its own role.
 */
describe("db: TLS with client certificates (sslmode=verify-full)", function () {
  this.timeout(300_000);
  let certs: Certificates;
  let server: PrivatePostgres;
  let url: string;

  before(async function () {
    certs = makeCertificates("postgres");
    server = await startTlsPostgres(certs);
    url = server.url.replace(/\/postgres$/, "/meterline");
    const admin = await connect(tlsUrl(server.url, certs));
    await admin.query("CREATE DATABASE meterline");
    await admin.end();
  });
  after(async function () {
    server?.destroy();
    if (certs) removeCertificates(certs);
  });

  it("refuses plain connections, connections without a client certificate, and a server it cannot verify", async function () {
    const refused = async (u: string) => (await connect(u).then((c) => c.end().then(() => null), (e: Error) => e))?.message ?? "connected";
    expect(await refused(server.url)).to.match(/pg_hba.conf|no encryption/);
    expect(await refused(tlsUrl(server.url, certs, { withClientCert: false }))).to.match(/certificate|authentication/i);
    expect(await refused(tlsUrl(server.url, certs, { ca: certs.otherCa }))).to.match(/self.signed|certificate/i);
    const ok = await connect(tlsUrl(server.url, certs));
    const { rows } = await ok.query<{ ssl: boolean; version: string }>("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
    await ok.end();
    expect(rows[0]!.ssl).to.equal(true);
    expect(rows[0]!.version).to.match(/^TLSv1\.[23]$/);
  });

  describe("the indexer and the API, each as its own role, over TLS", function () {
    let chain: ChainServer;
    let w: Workload;
    let owner: Database;
    let indexerDb: Database;
    let apiDb: Database;
    let idp: LocalIdp;
    let api: RunningApi;

    before(async function () {
      owner = await openDatabase({ target: { kind: "postgres", url: tlsUrl(url, certs) } });
      await migrate(owner.pool);
      await hre.network.provider.request({ method: "hardhat_reset", params: [] });
      chain = await serveChain(hre);
      w = new Workload(hre, { tenants: 1, metersPerTenant: 1, reportersPerTenant: 1 });
      await w.deploy();
      await w.round({ reveals: 2, recordsPerReveal: 5 });
    });
    after(async function () {
      await api?.close();
      await idp?.close();
      await indexerDb?.close();
      await apiDb?.close();
      await owner?.close();
      await chain?.close();
      await hre.network.provider.request({ method: "hardhat_reset", params: [] });
    });

    it("indexes the chain as meterline_indexer", async function () {
      indexerDb = await openDatabase({ target: { kind: "postgres", url: urlAsRole(tlsUrl(url, certs), "meterline_indexer") } });
      const indexer = await runIndexer(testConfig(w, chain.url), indexerDb);
      try {
        await waitForCheckpoint(owner.pool, await w.head());
      } finally {
        await indexer.stop();
      }
      const { rows } = await owner.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM usage_records");
      expect(rows[0]!.n).to.be.greaterThan(0);
    });

    it("serves a tenant's data as meterline_api; /readyz works under that role", async function () {
      idp = await startLocalIdp({ clients: [{ clientId: "t1", clientSecret: "s1", tenant: "tenant-1", roles: ["viewer"] }], audience: "https://api.meterline.test" });
      const apiUrl = urlAsRole(tlsUrl(url, certs), "meterline_api");
      apiDb = await openDatabase({ target: { kind: "postgres", url: apiUrl } });
      const config = parseApiConfig({ NODE_ENV: "test", HOST: "127.0.0.1", PORT: "0", OIDC_ISSUER: idp.issuer, OIDC_AUDIENCE: "https://api.meterline.test", DATABASE_URL: apiUrl });
      api = await startApi(config, { db: apiDb, logger: pino({ level: "silent" }) });
      expect((await fetch(`${api.url}/readyz`)).status).to.equal(200);
      const token = await idp.getToken("t1", "s1");
      const res = await fetch(`${api.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: "{ tenant { slug } usageRecords(first: 1) { totalCount } }" }),
      });
      const body = (await res.json()) as { data: { tenant: { slug: string }; usageRecords: { totalCount: number } } };
      expect(body.data.tenant.slug).to.equal("tenant-1");
      expect(body.data.usageRecords.totalCount).to.be.greaterThan(0);
    });
  });
});
