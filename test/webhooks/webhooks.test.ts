import { expect } from "chai";
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { openDatabase, withTransaction } from "../../db/connection";
import { enqueueEvent } from "../../webhooks/outbox";
import { keyRingFromEnv, openSecret, sealSecret, WebhookSecretError, type KeyRing } from "../../webhooks/secrets";
import { DEFAULT_DELIVERY_OPTIONS, deliverDueOnce, redeliver, type DeliveryOptions } from "../../webhooks/delivery";
import { createEndpoint, deleteEndpoint, reencryptSecrets, rotateEndpointSecret, WebhookEndpointError } from "../../webhooks/endpoints";
import { Webhook } from "standardwebhooks";
import { postWebhook } from "../../webhooks/post";
import { pruneDeliveries } from "../../webhooks/retention";
import { createTestDatabase, openAsRole, type TestDatabase } from "../helpers/database";
import type { DestinationPolicy } from "../../webhooks/destinations";

const LOCAL: DestinationPolicy = { allowLoopbackHttp: true };
import { addContract, addTenant } from "../billing/helpers/chain-rows";

interface Received {
  deliveryId: string;
  event: string;
  signature: string;
  body: string;
  headers: Record<string, string>;
}

/** A real HTTP receiver on 127.0.0.1 that answers with the status `respond` picks. */
async function startReceiver(respond: (r: Received, n: number) => number) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const r: Received = {
        deliveryId: String(req.headers["meterline-delivery"]),
        event: String(req.headers["meterline-event"]),
        signature: String(req.headers["meterline-signature"]),
        body: Buffer.concat(chunks).toString("utf8"),
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
      };
      received.push(r);
      res.statusCode = respond(r, received.length);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  return { url, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/**
 * Independent verifier, written as a receiver would from docs/billing.md: parse t and every v1,
 * recompute HMAC-SHA256(secret, `${t}.${body}`), compare in constant time, bound the clock skew.
 */
function verifySignature(header: string, body: string, secret: string, toleranceSec = 300): boolean {
  const parts = header.split(",").map((p) => p.split("=", 2) as [string, string]);
  const t = Number(parts.find(([k]) => k === "t")?.[1]);
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > toleranceSec) return false;
  const expected = createHmac("sha256", secret).update(`${t}.${body}`).digest();
  return parts
    .filter(([k]) => k === "v1")
    .some(([, v]) => {
      const got = Buffer.from(v, "hex");
      return got.length === expected.length && timingSafeEqual(got, expected);
    });
}

describe("webhooks", function () {
  let db: TestDatabase;
  let tenantId: string;
  const key: KeyRing = keyRingFromEnv({ WEBHOOK_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString("base64")}` })!;
  // Receivers in these tests listen on loopback over plain http: the development policy.
  const options: DeliveryOptions = { ...DEFAULT_DELIVERY_OPTIONS, keyRing: key, maxAttempts: 3, baseBackoffMs: 1_000, leaseMs: 30_000, destinations: LOCAL };

  before(async function () {
    db = await createTestDatabase();
    tenantId = await addTenant(db.pool, await addContract(db.pool), "acme", 1);
  });
  after(async function () {
    await db.drop();
  });

  async function emit(type: "invoice.finalized" | "quota.threshold_crossed", key: string) {
    await withTransaction(db.pool, (c) => enqueueEvent(c, tenantId, type, key, { hello: key }));
  }

  it("encrypts secrets at rest with AES-256-GCM bound to the endpoint and named key", function () {
    const sealed = sealSecret(key, "ep-1", "whsec_x");
    expect(sealed.keyId).to.equal("k1");
    expect(sealed.ciphertext.includes(Buffer.from("whsec_x"))).to.equal(false);
    expect(openSecret(key, "ep-1", sealed)).to.equal("whsec_x");
    expect(() => openSecret(key, "ep-2", sealed)).to.throw(WebhookSecretError);
    const other = keyRingFromEnv({ WEBHOOK_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString("base64")}` })!;
    expect(() => openSecret(other, "ep-1", sealed)).to.throw(WebhookSecretError, /does not open with key "k1"/);
    expect(() => keyRingFromEnv({ WEBHOOK_ENCRYPTION_KEY: randomBytes(16).toString("base64") })).to.throw(WebhookSecretError, /WEBHOOK_ENCRYPTION_KEY: .*32 bytes/);
    expect(() => keyRingFromEnv({ WEBHOOK_ENCRYPTION_KEYS: "a:" + randomBytes(32).toString("base64") + ",a:" + randomBytes(32).toString("base64") })).to.throw(/appears twice/);
    expect(() => keyRingFromEnv({ WEBHOOK_ENCRYPTION_KEYS: randomBytes(32).toString("base64") })).to.throw(/needs an id/);
    const single = keyRingFromEnv({ WEBHOOK_ENCRYPTION_KEY: randomBytes(32).toString("base64") })!;
    expect(single.current.id).to.equal("default");
  });

  it("signs deliveries verifiably, with stable delivery ids and event headers; rotation signs with both secrets during overlap", async function () {
    const rx = await startReceiver(() => 200);
    try {
      const bad = await createEndpoint(db.pool, key, { tenantId, url: "ftp://x", eventTypes: ["invoice.finalized"] }, LOCAL).catch((e: Error) => e);
      expect(bad).to.be.instanceOf(WebhookEndpointError);
      const ep = await createEndpoint(db.pool, key, { tenantId, url: rx.url, eventTypes: ["invoice.finalized"] }, LOCAL);
      const { rows } = await db.pool.query("SELECT secret_ciphertext FROM webhook_endpoints WHERE id = $1", [ep.id]);
      expect((rows[0].secret_ciphertext as Buffer).includes(Buffer.from(ep.secret))).to.equal(false);

      await emit("invoice.finalized", "k1");
      await emit("quota.threshold_crossed", "k2"); // not subscribed
      const out = await deliverDueOnce(db, options);
      expect(out.map((o) => o.status)).to.deep.equal(["delivered"]);
      expect(rx.received).to.have.length(1);
      const first = rx.received[0]!;
      expect(first.event).to.equal("invoice.finalized");
      expect(first.deliveryId).to.equal(out[0]!.id);
      expect(verifySignature(first.signature, first.body, ep.secret)).to.equal(true);
      expect(verifySignature(first.signature, first.body + " ", ep.secret)).to.equal(false);
      expect(verifySignature(first.signature, first.body, "whsec_wrong")).to.equal(false);
      expect(JSON.parse(first.body)).to.include({ type: "invoice.finalized" });

      const now = new Date(Date.now() + 1_000);
      const rotated = await rotateEndpointSecret(db.pool, key, tenantId, ep.id, 60_000, now);
      await emit("invoice.finalized", "k3");
      await deliverDueOnce(db, options, now);
      const during = rx.received[1]!;
      expect(during.signature.match(/v1=/g)).to.have.length(2);
      expect(verifySignature(during.signature, during.body, rotated.secret)).to.equal(true);
      expect(verifySignature(during.signature, during.body, ep.secret)).to.equal(true);

      await emit("invoice.finalized", "k4");
      await deliverDueOnce(db, options, new Date(now.getTime() + 61_000));
      const afterOverlap = rx.received[2]!;
      expect(afterOverlap.signature.match(/v1=/g)).to.have.length(1);
      expect(verifySignature(afterOverlap.signature, afterOverlap.body, ep.secret)).to.equal(false);
      expect(verifySignature(afterOverlap.signature, afterOverlap.body, rotated.secret)).to.equal(true);

      expect(await deleteEndpoint(db.pool, tenantId, ep.id)).to.equal(true);
      await emit("invoice.finalized", "k5");
      expect(await deliverDueOnce(db, options, new Date(now.getTime() + 120_000))).to.have.length(0);
    } finally {
      await rx.close();
    }
  });

  it("retries with exponential backoff and dead-letters after maxAttempts", async function () {
    let status = 503;
    const rx = await startReceiver(() => status);
    try {
      await createEndpoint(db.pool, key, { tenantId, url: rx.url, eventTypes: ["quota.threshold_crossed"] }, LOCAL);
      await emit("quota.threshold_crossed", "retry-1");
      const t0 = new Date("2030-01-01T00:00:00Z");
      const a1 = await deliverDueOnce(db, options, t0);
      expect(a1.map((o) => o.status)).to.deep.equal(["retry"]);
      const id = a1[0]!.id;
      const next = async () => (await db.pool.query("SELECT next_attempt_at, attempts, status FROM webhook_deliveries WHERE id = $1", [id])).rows[0];
      expect((await next()).next_attempt_at.getTime() - t0.getTime()).to.equal(1_000);
      expect(await deliverDueOnce(db, options, new Date(t0.getTime() + 999))).to.have.length(0); // not due yet
      const a2 = await deliverDueOnce(db, options, new Date(t0.getTime() + 1_000));
      expect(a2.map((o) => o.status)).to.deep.equal(["retry"]);
      expect((await next()).next_attempt_at.getTime() - (t0.getTime() + 1_000)).to.equal(2_000);
      const a3 = await deliverDueOnce(db, options, new Date(t0.getTime() + 3_000));
      expect(a3.map((o) => o.status)).to.deep.equal(["dead"]);
      expect((await next()).status).to.equal("dead");
      expect(rx.received.map((r) => r.deliveryId)).to.deep.equal([id, id, id]);
      // the receiver is fixed; an operator re-queues the dead letter, which keeps its id
      status = 200;
      expect(await redeliver(db, tenantId, id)).to.equal(true);
      const again = await deliverDueOnce(db, options, new Date(Date.now() + 1_000));
      expect(again.map((o) => [o.id, o.status])).to.deep.equal([[id, "delivered"]]);
      expect(await redeliver(db, tenantId, id)).to.equal(false); // only dead deliveries
    } finally {
      await rx.close();
    }
  });

  it("survives a crash between commit and delivery: nothing lost, no delivery id duplicated", async function () {
    await db.pool.query("DELETE FROM webhook_endpoints");
    const rx = await startReceiver(() => 200);
    try {
      await createEndpoint(db.pool, key, { tenantId, url: rx.url, eventTypes: ["invoice.finalized"] }, LOCAL);
      for (let i = 0; i < 6; i++) await emit("invoice.finalized", `crash-${i}`);
      // the producer "crashes" after committing: a fresh process (new pool) picks the outbox up
      const t0 = new Date("2031-01-01T00:00:00Z");
      const worker1 = await openDatabase({ target: { kind: "postgres", url: db.url } });
      let sent = 0;
      try {
        await deliverDueOnce(worker1, { ...options, batchSize: 4 }, t0, {
          afterSend: () => {
            sent += 1;
            // the worker dies after its 2nd POST got a 200, before recording it
            if (sent === 2) throw new Error("simulated crash");
          },
        });
        expect.fail("the worker should have crashed");
      } catch (err) {
        expect((err as Error).message).to.equal("simulated crash");
      } finally {
        await worker1.close();
      }
      const worker2 = await openDatabase({ target: { kind: "postgres", url: db.url } });
      try {
        // claimed but unrecorded deliveries stay leased until the lease ends; then all are sent
        await deliverDueOnce(worker2, options, new Date(t0.getTime() + 1_000));
        await deliverDueOnce(worker2, options, new Date(t0.getTime() + options.leaseMs + 1_000));
      } finally {
        await worker2.close();
      }
      const { rows } = await db.pool.query<{ id: string; status: string }>(
        `SELECT d.id, d.status FROM webhook_deliveries d JOIN webhook_outbox o ON o.id = d.event_id WHERE o.event_key LIKE 'crash-%'`,
      );
      expect(rows).to.have.length(6);
      expect(rows.every((r) => r.status === "delivered")).to.equal(true);
      const ids = new Set(rows.map((r) => r.id));
      const receivedIds = rx.received.map((r) => r.deliveryId);
      expect(new Set(receivedIds)).to.deep.equal(ids); // every delivery arrived, under its own id
      // at-least-once: only the one whose acknowledgement was lost arrived twice, same id
      expect(receivedIds.length).to.equal(7);
      const bodies = new Map<string, Set<string>>();
      for (const r of rx.received) bodies.set(r.deliveryId, (bodies.get(r.deliveryId) ?? new Set()).add(r.body));
      expect([...bodies.values()].every((b) => b.size === 1)).to.equal(true);
    } finally {
      await rx.close();
    }
  });
});

describe("webhooks: rotating the encryption key ring", function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let tenantId: string;
  const b64 = () => randomBytes(32).toString("base64");
  const [A, B] = [b64(), b64()];
  before(async function () {
    db = await createTestDatabase();
    tenantId = await addTenant(db.pool, await addContract(db.pool), "acme", 1);
  });
  after(async function () {
    await db?.drop();
  });

  it("new secrets use the newest key, old ones still open, re-encryption retires the old key; end to end through delivery", async function () {
    const rx = await startReceiver(() => 200);
    try {
      const onlyA = keyRingFromEnv({ WEBHOOK_ENCRYPTION_KEY: A })!;
      const old = await createEndpoint(db.pool, onlyA, { tenantId, url: rx.url, eventTypes: ["invoice.finalized"] }, LOCAL);
      const rotated = await rotateEndpointSecret(db.pool, onlyA, tenantId, old.id, 3_600_000);

      // Rotation: B first (current), the old key still in the ring.
      const ringBA = keyRingFromEnv({ WEBHOOK_ENCRYPTION_KEYS: `b:${B},default:${A}` })!;
      const fresh = await createEndpoint(db.pool, ringBA, { tenantId, url: rx.url, eventTypes: ["invoice.finalized"] }, LOCAL);
      const keyIds = async () =>
        (await db.pool.query<{ id: string; k: string; p: string | null }>("SELECT id, secret_key_id AS k, previous_secret_key_id AS p FROM webhook_endpoints ORDER BY created_at")).rows;
      expect((await keyIds()).map((r) => [r.k, r.p])).to.deep.equal([["default", "default"], ["b", null]]);
      await withTransaction(db.pool, (c) => enqueueEvent(c, tenantId, "invoice.finalized", "rot-1", { n: 1 }));
      const out = await deliverDueOnce(db, { ...DEFAULT_DELIVERY_OPTIONS, keyRing: ringBA, destinations: LOCAL });
      expect(out.map((o) => o.status)).to.deep.equal(["delivered", "delivered"]);
      const byUrlSecret = (secret: string) => rx.received.some((r) => verifySignature(r.signature, r.body, secret));
      expect(byUrlSecret(rotated.secret) && byUrlSecret(fresh.secret) && byUrlSecret(old.secret)).to.equal(true);

      // Without the old key, old secrets no longer open: delivery fails naming the key, nothing leaks.
      const onlyB = keyRingFromEnv({ WEBHOOK_ENCRYPTION_KEYS: `b:${B}` })!;
      await withTransaction(db.pool, (c) => enqueueEvent(c, tenantId, "invoice.finalized", "rot-2", { n: 2 }));
      const failing = await deliverDueOnce(db, { ...DEFAULT_DELIVERY_OPTIONS, keyRing: onlyB, destinations: LOCAL });
      expect(failing.find((o) => o.status !== "delivered")?.error).to.match(/sealed with key "default", which is not in the key ring/);

      // Re-encrypt everything under B (as the delivery service's role), then B alone suffices.
      const webhooksRole = await openAsRole(db, "meterline_webhooks");
      expect(await reencryptSecrets(webhooksRole.pool, ringBA, 1)).to.equal(1);
      expect((await keyIds()).map((r) => [r.k, r.p])).to.deep.equal([["b", "b"], ["b", null]]);
      expect(await reencryptSecrets(webhooksRole.pool, ringBA)).to.equal(0);
      await db.pool.query("UPDATE webhook_deliveries SET next_attempt_at = now() - interval '1 second' WHERE status = 'pending'");
      const after = await deliverDueOnce(db, { ...DEFAULT_DELIVERY_OPTIONS, keyRing: onlyB, destinations: LOCAL });
      expect(after.every((o) => o.status === "delivered")).to.equal(true);
    } finally {
      await rx.close();
    }
  });
});

describe("webhooks: destinations and Standard Webhooks", function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let tenantId: string;
  const ring = keyRingFromEnv({ WEBHOOK_ENCRYPTION_KEYS: `k:${randomBytes(32).toString("base64")}` })!;
  before(async function () {
    db = await createTestDatabase();
    tenantId = await addTenant(db.pool, await addContract(db.pool), "acme", 1);
  });
  after(async function () {
    await db?.drop();
  });

  it("refuses non-https, internal, private, link-local, metadata and unresolvable destinations at creation", async function () {
    const refused = async (url: string, policy?: DestinationPolicy) => {
      const err = await createEndpoint(db.pool, ring, { tenantId, url, eventTypes: ["invoice.finalized"] }, policy).catch((e: Error) => e);
      return err instanceof WebhookEndpointError ? err.message : "created";
    };
    expect(await refused("http://93.184.215.14/hook")).to.match(/must be https/);
    expect(await refused("https://169.254.169.254/latest/meta-data/")).to.match(/linkLocal/);
    expect(await refused("https://127.0.0.1:5432/")).to.match(/loopback/);
    expect(await refused("https://10.0.0.7/")).to.match(/private/);
    expect(await refused("https://[::ffff:127.0.0.1]/")).to.match(/loopback/);
    expect(await refused("https://[fd00:ec2::254]/")).to.match(/uniqueLocal/);
    expect(await refused("https://100.64.0.1/")).to.match(/carrierGradeNat/);
    expect(await refused("https://0.0.0.0/")).to.match(/unspecified/);
    expect(await refused("https://localhost/")).to.match(/loopback/);
    expect(await refused("https://user:pw@93.184.215.14/")).to.match(/credentials/);
    expect(await refused("https://nothing.invalid/")).to.match(/cannot resolve/);
    // development: plain http to loopback only
    expect(await refused("http://127.0.0.1:9/hook", LOCAL)).to.equal("created");
    expect(await refused("http://93.184.215.14/hook", LOCAL)).to.match(/loopback addresses only/);
    expect(await refused("https://93.184.215.14/hook")).to.equal("created");
  });

  it("checks the address again on the connection itself (DNS rebinding): a name resolving inside is never contacted", async function () {
    // The connect-time lookup refuses whatever the name resolves to now, whatever it resolved to at creation.
    const err = await postWebhook(new URL("https://localhost:9/"), {}, "{}", { timeoutMs: 2_000, policy: { allowLoopbackHttp: false } }).catch((e: Error & { code?: string }) => e);
    expect((err as { code?: string }).code).to.equal("EFORBIDDEN");
    expect(String(err)).to.match(/localhost resolves to .* loopback address/);
  });

  it("re-checks the policy at delivery: an endpoint no longer allowed is not contacted", async function () {
    const rx = await startReceiver(() => 200);
    try {
      // Created while allowed (development), delivered under the production policy: refused at connect.
      await createEndpoint(db.pool, ring, { tenantId, url: rx.url.replace("127.0.0.1", "localhost"), eventTypes: ["credit_note.issued"] }, LOCAL);
      await withTransaction(db.pool, (c) => enqueueEvent(c, tenantId, "credit_note.issued", "dns-1", { n: 1 }));
      const out = await deliverDueOnce(db, { ...DEFAULT_DELIVERY_OPTIONS, keyRing: ring, destinations: { allowLoopbackHttp: false } });
      expect(out).to.have.length(1);
      expect(out[0]!.status).to.equal("retry");
      expect(out[0]!.error).to.match(/must be https|loopback/);
      expect(rx.received).to.have.length(0);
    } finally {
      await rx.close();
    }
  });

  it("sends Standard Webhooks headers a ready-made verifier (standardwebhooks) accepts, also during a rotation", async function () {
    const rx = await startReceiver(() => 200);
    try {
      const ep = await createEndpoint(db.pool, ring, { tenantId, url: rx.url, eventTypes: ["billing.record_reorged"] }, LOCAL);
      await withTransaction(db.pool, (c) => enqueueEvent(c, tenantId, "billing.record_reorged", "std-1", { n: 1 }));
      await deliverDueOnce(db, { ...DEFAULT_DELIVERY_OPTIONS, keyRing: ring, destinations: LOCAL });
      const got = rx.received.at(-1)!;
      const verified = new Webhook(ep.secret).verify(got.body, got.headers) as { type: string };
      expect(verified.type).to.equal("billing.record_reorged");
      expect(got.headers["webhook-id"]).to.equal(got.deliveryId);
      expect(() => new Webhook(ep.secret).verify(`${got.body} `, got.headers)).to.throw();

      const rotated = await rotateEndpointSecret(db.pool, ring, tenantId, ep.id, 60_000);
      await withTransaction(db.pool, (c) => enqueueEvent(c, tenantId, "billing.record_reorged", "std-2", { n: 2 }));
      await deliverDueOnce(db, { ...DEFAULT_DELIVERY_OPTIONS, keyRing: ring, destinations: LOCAL });
      const during = rx.received.at(-1)!;
      for (const secret of [ep.secret, rotated.secret]) expect((new Webhook(secret).verify(during.body, during.headers) as { type: string }).type).to.equal("billing.record_reorged");
    } finally {
      await rx.close();
    }
  });
});

describe("webhooks: retention of operational data", function () {
  let db: TestDatabase;
  let tenantId: string;
  before(async function () {
    db = await createTestDatabase();
    tenantId = await addTenant(db.pool, await addContract(db.pool), "acme", 1);
  });
  after(async function () {
    await db?.drop();
  });

  it("prunes finished deliveries and spent events past the retention, as meterline_webhooks; pending ones stay", async function () {
    const ring = keyRingFromEnv({ WEBHOOK_ENCRYPTION_KEYS: `k:${randomBytes(32).toString("base64")}` })!;
    await createEndpoint(db.pool, ring, { tenantId, url: "https://93.184.215.14/hook", eventTypes: ["invoice.finalized"] });
    for (const k of ["old-done", "old-dead", "old-pending", "new-done"]) await withTransaction(db.pool, (c) => enqueueEvent(c, tenantId, "invoice.finalized", k, { k }));
    const set = (key: string, status: string, age: string) =>
      db.pool.query(
        `UPDATE webhook_deliveries d SET status = $2, created_at = now() - $3::interval FROM webhook_outbox o
          WHERE o.id = d.event_id AND o.event_key = $1`,
        [key, status, age],
      ).then(() => db.pool.query("UPDATE webhook_outbox SET created_at = now() - $2::interval WHERE event_key = $1", [key, age]));
    await set("old-done", "delivered", "40 days");
    await set("old-dead", "dead", "40 days");
    await set("old-pending", "pending", "40 days");
    await set("new-done", "delivered", "1 day");
    const pruned = await pruneDeliveries(await openAsRole(db, "meterline_webhooks"), new Date(Date.now() - 30 * 86_400_000));
    expect(pruned).to.deep.equal({ deliveries: 2, events: 2 });
    const { rows } = await db.pool.query<{ event_key: string }>("SELECT event_key FROM webhook_outbox ORDER BY event_key");
    expect(rows.map((r) => r.event_key)).to.deep.equal(["new-done", "old-pending"]);
  });
});
