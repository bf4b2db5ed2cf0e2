import { expect } from "chai";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { withTransaction } from "../../db/connection";
import { DEFAULT_DELIVERY_OPTIONS, deliverDueOnce, type DeliveryOptions } from "../../webhooks/delivery";
import { enqueueEvent } from "../../webhooks/outbox";
import { keyRingFromEnv } from "../../webhooks/secrets";
import { toGlobalId } from "../../api/resolvers/ids";
import { startHarness, type ApiHarness, type TestTenant } from "./fixtures";

const ENCRYPTION_KEY = Buffer.alloc(32, 0x11).toString("base64");

/** A receiver on 127.0.0.1 answering whatever `status` is at the time; records the delivery ids. */
async function startReceiver() {
  const state = { status: 500, received: [] as string[] };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      state.received.push(String(req.headers["meterline-delivery"]));
      res.statusCode = state.status;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { state, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

interface Delivery {
  id: string;
  deliveryId: string;
  endpoint: { id: string; url: string };
  eventType: string;
  eventId: string;
  status: string;
  attempts: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  deliveredAt: string | null;
}

const FIELDS = "id deliveryId endpoint { id url } eventType eventId status attempts nextAttemptAt lastStatusCode lastError deliveredAt";
const LOG = `query($endpoint: ID, $status: WebhookDeliveryStatus, $first: Int, $after: String) {
  webhookDeliveries(endpoint: $endpoint, status: $status, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { ${FIELDS} } } }
}`;
const REDELIVER = `mutation($id: ID!) { redeliverWebhook(id: $id) { ${FIELDS} } }`;

/**
 * The delivery log and dead-letter redelivery through the API (as meterline_api, row-level
 * security on), with the real delivery worker code dead-lettering and then delivering to a real
 * HTTP receiver. Two tenants with one dead letter each: neither reaches the other's.
 */
describe("api: webhook delivery log and redelivery", function () {
  this.timeout(120_000);
  let h: ApiHarness;
  let rx: Awaited<ReturnType<typeof startReceiver>>;
  const options: DeliveryOptions = {
    ...DEFAULT_DELIVERY_OPTIONS,
    keyRing: keyRingFromEnv({ WEBHOOK_ENCRYPTION_KEY: ENCRYPTION_KEY })!,
    destinations: { allowLoopbackHttp: true },
    // One failed attempt dead-letters a delivery.
    maxAttempts: 1,
  };
  const endpoints: Partial<Record<TestTenant, string>> = {};
  const operator = (t: TestTenant) => h.token(t, "operator");
  const log = async (t: TestTenant, vars: Record<string, unknown> = {}) => {
    const res = await h.gql(await operator(t), LOG, vars);
    return res;
  };
  const nodes = (res: Awaited<ReturnType<typeof log>>) =>
    (res.body.data!.webhookDeliveries as { edges: { node: Delivery }[] }).edges.map((e) => e.node);

  before(async function () {
    h = await startHarness({ WEBHOOK_ENCRYPTION_KEY: ENCRYPTION_KEY, WEBHOOK_ALLOW_LOOPBACK_HTTP: "true" });
    rx = await startReceiver();
    for (const t of ["acme", "globex"] as const) {
      const res = await h.gql(
        await operator(t),
        `mutation($url: String!) { createWebhookEndpoint(input: { url: $url, eventTypes: ["invoice.finalized"] }) { endpoint { id } } }`,
        { url: `${rx.url}/${t}` },
      );
      expect(res.body.errors, JSON.stringify(res.body.errors)).to.equal(undefined);
      endpoints[t] = (res.body.data!.createWebhookEndpoint as { endpoint: { id: string } }).endpoint.id;
      // Two events per tenant, fanned out to its endpoint as billing does.
      for (const n of [1, 2]) {
        await withTransaction(h.db.pool, (c) => enqueueEvent(c, h.tenantIds[t], "invoice.finalized", `${t}-event-${n}`, { invoice: n }));
      }
    }
    // The receiver fails: every delivery is dead after its one attempt.
    const outcomes = await deliverDueOnce(h.db, options);
    expect(outcomes.map((o) => o.status)).to.deep.equal(["dead", "dead", "dead", "dead"]);
  });
  after(async () => {
    await rx?.close();
    await h?.close();
  });

  it("lists the tenant's own deliveries, newest first, with the last attempt's outcome", async function () {
    const res = await log("acme");
    expect(res.body.errors, JSON.stringify(res.body.errors)).to.equal(undefined);
    expect((res.body.data!.webhookDeliveries as { totalCount: number }).totalCount).to.equal(2);
    const list = nodes(res);
    expect(list).to.have.length(2);
    for (const d of list) {
      expect(d.endpoint.id).to.equal(endpoints.acme);
      expect(d.endpoint.url).to.equal(`${rx.url}/acme`);
      expect(d).to.include({ eventType: "invoice.finalized", status: "DEAD", attempts: 1, lastStatusCode: 500, lastError: "HTTP 500", nextAttemptAt: null, deliveredAt: null });
      expect(rx.state.received).to.include(d.deliveryId);
    }
    // Newest first: the second event was fanned out last.
    expect(Number(list[0]!.eventId)).to.be.greaterThan(Number(list[1]!.eventId));
    // Filters: by status and by the tenant's own endpoint.
    expect(nodes(await log("acme", { status: "DELIVERED" }))).to.have.length(0);
    expect(nodes(await log("acme", { status: "DEAD", endpoint: endpoints.acme }))).to.have.length(2);
  });

  it("pages with a cursor and refuses a forged one", async function () {
    const page1 = await log("acme", { first: 1 });
    const conn1 = page1.body.data!.webhookDeliveries as { pageInfo: { hasNextPage: boolean; endCursor: string } };
    expect(conn1.pageInfo.hasNextPage).to.equal(true);
    const page2 = await log("acme", { first: 1, after: conn1.pageInfo.endCursor });
    const conn2 = page2.body.data!.webhookDeliveries as { pageInfo: { hasNextPage: boolean } };
    expect(conn2.pageInfo.hasNextPage).to.equal(false);
    expect(nodes(page2)[0]!.id).to.not.equal(nodes(page1)[0]!.id);
    const all = nodes(await log("acme")).map((d) => d.id);
    expect([nodes(page1)[0]!.id, nodes(page2)[0]!.id]).to.deep.equal(all);
    const forged = await log("acme", { after: Buffer.from(JSON.stringify(["x", "y"])).toString("base64url") });
    expect(forged.body.errors?.[0]?.extensions?.code).to.equal("BAD_USER_INPUT");
    expect(forged.body.errors?.[0]?.message).to.contain("after");
  });

  it("keeps each tenant to its own log: another tenant's endpoint is NOT_FOUND, its deliveries never listed", async function () {
    const globex = nodes(await log("globex"));
    expect(globex).to.have.length(2);
    expect(globex.every((d) => d.endpoint.id === endpoints.globex)).to.equal(true);
    const acme = nodes(await log("acme"));
    expect(acme.some((a) => globex.some((g) => g.deliveryId === a.deliveryId))).to.equal(false);
    const probe = await log("acme", { endpoint: endpoints.globex });
    expect(probe.body.errors?.[0]?.extensions?.code).to.equal("NOT_FOUND");
    expect(probe.body.data ?? null).to.equal(null);
    const garbage = await log("acme", { endpoint: "not-an-id" });
    expect(garbage.body.errors?.[0]?.extensions?.code).to.equal("BAD_USER_INPUT");
  });

  it("refuses another tenant's delivery as NOT_FOUND and changes nothing of it", async function () {
    const target = nodes(await log("globex"))[0]!;
    const before = await h.db.pool.query("SELECT status, attempts, next_attempt_at FROM webhook_deliveries WHERE id = $1", [target.deliveryId]);
    for (const id of [target.id, toGlobalId("WebhookDelivery", "00000000-0000-4000-8000-000000000000"), "not-an-id"]) {
      const res = await h.gql(await operator("acme"), REDELIVER, { id });
      expect(res.body.errors?.[0]?.extensions?.code, id).to.equal("NOT_FOUND");
      expect(res.body.data ?? null).to.equal(null);
    }
    const after = await h.db.pool.query("SELECT status, attempts, next_attempt_at FROM webhook_deliveries WHERE id = $1", [target.deliveryId]);
    expect(after.rows).to.deep.equal(before.rows);
    const audited = await h.db.pool.query("SELECT 1 FROM audit_log WHERE action = 'webhook_delivery.redeliver'");
    expect(audited.rowCount).to.equal(0);
  });

  it("forbids the redelivery to a viewer and an auditor", async function () {
    const target = nodes(await log("acme"))[0]!;
    for (const role of ["viewer", "auditor"] as const) {
      const res = await h.gql(await h.token("acme", role), REDELIVER, { id: target.id });
      expect(res.body.errors?.[0]?.extensions?.code, role).to.equal("FORBIDDEN");
      const read = await h.gql(await h.token("acme", role), LOG);
      expect(read.body.errors?.[0]?.extensions?.code, role).to.equal("FORBIDDEN");
    }
    expect(nodes(await log("acme")).find((d) => d.id === target.id)!.status).to.equal("DEAD");
  });

  it("redelivers a dead letter under the same id, audited; a pending or delivered one is a CONFLICT naming why", async function () {
    const target = nodes(await log("acme"))[0]!;
    const res = await h.gql(await operator("acme"), REDELIVER, { id: target.id });
    expect(res.body.errors, JSON.stringify(res.body.errors)).to.equal(undefined);
    const queued = res.body.data!.redeliverWebhook as Delivery;
    expect(queued).to.include({ id: target.id, deliveryId: target.deliveryId, status: "PENDING", attempts: 0, lastError: "HTTP 500" });
    expect(queued.nextAttemptAt).to.be.a("string");
    const { rows } = await h.db.pool.query<{ subject: string; changes: { before: { status: string }; after: { status: string } } }>(
      "SELECT subject, changes FROM audit_log WHERE tenant_id = $1 AND action = 'webhook_delivery.redeliver' AND entity_id = $2",
      [h.tenantIds.acme, target.deliveryId],
    );
    expect(rows).to.have.length(1);
    expect(rows[0]!.changes.before.status).to.equal("dead");
    expect(rows[0]!.changes.after.status).to.equal("pending");

    const again = await h.gql(await operator("acme"), REDELIVER, { id: target.id });
    expect(again.body.errors?.[0]?.extensions?.code).to.equal("CONFLICT");
    expect(again.body.errors?.[0]?.message).to.contain("is pending").and.contain("only a dead delivery can be redelivered");

    // The receiver is fixed; the worker sends the re-queued delivery, under its id.
    rx.state.status = 200;
    const sent = await deliverDueOnce(h.db, options);
    expect(sent.map((o) => [o.id, o.status])).to.deep.equal([[target.deliveryId, "delivered"]]);
    expect(rx.state.received.at(-1)).to.equal(target.deliveryId);
    const delivered = nodes(await log("acme", { status: "DELIVERED" }));
    expect(delivered.map((d) => d.deliveryId)).to.deep.equal([target.deliveryId]);
    expect(delivered[0]).to.include({ lastStatusCode: 200, lastError: null, attempts: 1 });
    const done = await h.gql(await operator("acme"), REDELIVER, { id: target.id });
    expect(done.body.errors?.[0]?.extensions?.code).to.equal("CONFLICT");
    expect(done.body.errors?.[0]?.message).to.contain("was delivered already");
    // globex's dead letters were never touched.
    expect(nodes(await log("globex")).every((d) => d.status === "DEAD" && d.attempts === 1)).to.equal(true);
  });

  it("gives meterline_api no direct write to deliveries and no row outside its tenant", async function () {
    const c = await h.apiDb.pool.connect();
    try {
      await c.query("BEGIN");
      await c.query("SELECT set_config('meterline.tenant_id', $1, true)", [h.tenantIds.acme]);
      const visible = await c.query<{ tenant_id: string }>("SELECT DISTINCT tenant_id::text FROM webhook_deliveries");
      expect(visible.rows.map((r) => r.tenant_id)).to.deep.equal([h.tenantIds.acme]);
      let refused = "";
      try {
        await c.query("UPDATE webhook_deliveries SET status = 'delivered'");
      } catch (err) {
        refused = (err as Error).message;
      }
      expect(refused).to.match(/permission denied/);
      await c.query("ROLLBACK");
      // The function finds nothing of another tenant even when given its id.
      await c.query("BEGIN");
      await c.query("SELECT set_config('meterline.tenant_id', $1, true)", [h.tenantIds.acme]);
      const foreign = nodes(await log("globex"))[0]!;
      const r = await c.query<{ prior: string | null }>("SELECT meterline_redeliver_webhook($1::uuid) AS prior", [foreign.deliveryId]);
      expect(r.rows[0]!.prior).to.equal(null);
      await c.query("ROLLBACK");
    } finally {
      c.release();
    }
  });
});
