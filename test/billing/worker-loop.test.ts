import { expect } from "chai";
import { createHmac, randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { billingConfigFromEnv, BillingConfigError, startBillingWorker } from "../../billing";
import { createEndpoint } from "../../webhooks/endpoints";
import { webhookConfigFromEnv, WebhookConfigError } from "../../webhooks/config";
import { startWebhookWorker } from "../../webhooks/worker";
import { keyRingFromEnv } from "../../webhooks/secrets";
import { applySeed, seedSchema } from "../../stack/seed/apply-seed";
import { createTestDatabase, openAsRole, type TestDatabase } from "../helpers/database";
import type { Database } from "../../db/connection";
import { addContract, addMeter, addRecord, addTenant, setCheckpoint } from "./helpers/chain-rows";

describe("billing and webhook delivery workers", function () {
  let db: TestDatabase;
  /** The billing service under test runs as its own database role (meterline_billing). */
  let billing: Database;
  after(async function () {
    await db?.drop();
  });

  it("parses its configuration once and rejects bad values", function () {
    expect(() => billingConfigFromEnv({ BILLING_GRACE_MS: "-1" })).to.throw(BillingConfigError, /BILLING_GRACE_MS/);
    expect(() => webhookConfigFromEnv({ WEBHOOK_ENCRYPTION_KEY: "c2hvcnQ=" })).to.throw(WebhookConfigError, /WEBHOOK_ENCRYPTION_KEY.*32 bytes/);
    expect(() => webhookConfigFromEnv({})).to.throw(WebhookConfigError, /WEBHOOK_ENCRYPTION_KEYS: required/);
    const c = billingConfigFromEnv({ CONFIRMATIONS: "3" });
    expect(c.confirmations).to.equal(3);
  });

  it("finalizes a past period and delivers a signed invoice.finalized webhook, then stops", async function () {
    db = await createTestDatabase();
    billing = await openAsRole(db, "meterline_billing");
    const contractId = await addContract(db.pool);
    const tenantId = await addTenant(db.pool, contractId, "acme", 1);
    await addMeter(db.pool, tenantId, 1, "api_calls");
    await applySeed(
      db,
      seedSchema.parse({
        tenants: [
          {
            slug: "acme",
            meters: [{ name: "api_calls", aggregation: "SUM", displayName: "API calls" }],
            plan: {
              name: "p",
              versions: [{ currency: "EUR", prices: [{ meter: "api_calls", model: "per_unit", unitPrice: "0.25" }] }],
            },
          },
        ],
      }),
      // configured well before the usage below
      { now: new Date(Date.now() - 100 * 86_400_000) },
    );
    await addRecord(db.pool, { tenantId, contractId, meterId: 1, at: new Date(Date.now() - 40 * 86_400_000), quantity: 10n, blockNumber: 5 });
    await setCheckpoint(db.pool, contractId, 10);

    const bodies: Array<{ body: string; signature: string }> = [];
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        bodies.push({ body: Buffer.concat(chunks).toString(), signature: String(req.headers["meterline-signature"]) });
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const rawKey = randomBytes(32);
    const key = keyRingFromEnv({ WEBHOOK_ENCRYPTION_KEY: rawKey.toString("base64") })!;
    const ep = await createEndpoint(db.pool, key, {
      tenantId,
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
      eventTypes: ["invoice.finalized"],
    }, { allowLoopbackHttp: true });
    const config = billingConfigFromEnv({ BILLING_INTERVAL_MS: "100", BILLING_GRACE_MS: "0", CONFIRMATIONS: "0" });
    const delivery = webhookConfigFromEnv({ WEBHOOK_ENCRYPTION_KEY: rawKey.toString("base64"), WEBHOOK_INTERVAL_MS: "50", WEBHOOK_ALLOW_LOOPBACK_HTTP: "true" });
    const logs: string[] = [];
    const logger = { info: (_: object, m?: string) => logs.push(m ?? ""), warn: () => undefined, error: (o: object) => logs.push(JSON.stringify(o)) };
    // Each worker with its own database role, as in production.
    const worker = startBillingWorker(config, { db: billing, logger });
    const webhooks = startWebhookWorker(delivery, { db: await openAsRole(db, "meterline_webhooks"), logger });
    try {
      const deadline = Date.now() + 20_000;
      while (bodies.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    } finally {
      await worker.stop();
      await webhooks.stop();
      await new Promise<void>((r) => server.close(() => r()));
    }
    await worker.done;
    expect(bodies).to.have.length(1);
    const event = JSON.parse(bodies[0]!.body);
    expect(event.type).to.equal("invoice.finalized");
    expect(event.data).to.include({ number: 1, totalMinor: "250", currency: "EUR" });
    const [t, v1] = bodies[0]!.signature.split(",").map((p) => p.split("=")[1]);
    expect(createHmac("sha256", ep.secret).update(`${t}.${bodies[0]!.body}`).digest("hex")).to.equal(v1);
  });
});
