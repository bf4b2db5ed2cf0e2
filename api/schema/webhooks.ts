import { randomUUID } from "node:crypto";
import { recordAudit } from "../audit";
import type { RequestContext } from "../context";
import { badInput, notFound } from "../errors";
import { fromGlobalId, toGlobalId } from "./ids";

const EVENT_TYPES = new Set(["quota.threshold_crossed", "invoice.finalized", "usage.commitment_expired"]);

interface EndpointRow {
  id: string;
  url: string;
  event_types: string[];
  created_at: Date;
  rotated_at: Date | null;
}

const endpointNode = (r: EndpointRow) => ({
  id: toGlobalId("WebhookEndpoint", r.id),
  url: r.url,
  eventTypes: r.event_types,
  createdAt: r.created_at,
  rotatedAt: r.rotated_at,
});

function endpointIdOf(id: string): string | null {
  const key = fromGlobalId(id, "WebhookEndpoint", 1);
  return key && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(key[0]!) ? key[0]! : null;
}

function secrets(ctx: RequestContext) {
  // Without the dispatcher's key a secret could be shown but never used to sign: refuse.
  if (!ctx.webhookSecrets) throw badInput("webhook endpoints are not enabled on this server");
  return ctx.webhookSecrets;
}

function validUrl(url: string): boolean {
  if (url.length > 2000) return false;
  try {
    const u = new URL(url);
    return (u.protocol === "https:" || u.protocol === "http:") && u.username === "" && u.password === "";
  } catch {
    return false;
  }
}

// Rotation keeps the previous secret valid for a day so receivers can switch without losing events.
const PREVIOUS_SECRET_GRACE = "24 hours";

export const webhookResolvers = {
  Query: {
    webhookEndpoints: (_: unknown, __: unknown, ctx: RequestContext) =>
      ctx.db.run(ctx.principal, async (c, tenantId) => {
        const { rows } = await c.query<EndpointRow>(
          "SELECT id::text, url, event_types, created_at, rotated_at FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY created_at, id",
          [tenantId],
        );
        return rows.map(endpointNode);
      }),
  },
  Mutation: {
    createWebhookEndpoint: (_: unknown, args: { input: { url: string; eventTypes: string[] } }, ctx: RequestContext) => {
      const { url, eventTypes } = args.input;
      if (!validUrl(url)) throw badInput("url must be an http(s) URL without credentials");
      if (eventTypes.length === 0 || eventTypes.length > 10 || !eventTypes.every((t) => EVENT_TYPES.has(t))) {
        throw badInput(`eventTypes must be among ${[...EVENT_TYPES].join(", ")}`);
      }
      const id = randomUUID();
      const { secret, ciphertext } = secrets(ctx).create(id);
      return ctx.db.run(ctx.principal, async (c, tenantId) => {
        if (tenantId === null) throw notFound();
        const { rows } = await c.query<EndpointRow>(
          `INSERT INTO webhook_endpoints (tenant_id, id, url, event_types, secret_ciphertext) VALUES ($1, $2, $3, $4, $5)
           RETURNING id::text, url, event_types, created_at, rotated_at`,
          [tenantId, id, url, [...new Set(eventTypes)], ciphertext],
        );
        await recordAudit(c, tenantId, ctx, { action: "webhook_endpoint.create", entityType: "webhook_endpoint", entityId: id, changes: { url, eventTypes } });
        return { endpoint: endpointNode(rows[0]!), secret };
      });
    },
    rotateWebhookSecret: (_: unknown, args: { id: string }, ctx: RequestContext) => {
      const id = endpointIdOf(args.id);
      if (id === null) throw notFound();
      const { secret, ciphertext } = secrets(ctx).create(id);
      return ctx.db.run(ctx.principal, async (c, tenantId) => {
        const { rows } = await c.query<EndpointRow>(
          `UPDATE webhook_endpoints
             SET previous_secret_ciphertext = secret_ciphertext, previous_secret_expires_at = now() + $4::interval,
                 secret_ciphertext = $3, rotated_at = now()
           WHERE tenant_id = $1 AND id = $2
           RETURNING id::text, url, event_types, created_at, rotated_at`,
          [tenantId, id, ciphertext, PREVIOUS_SECRET_GRACE],
        );
        if (!rows[0]) throw notFound();
        await recordAudit(c, tenantId!, ctx, { action: "webhook_endpoint.rotate_secret", entityType: "webhook_endpoint", entityId: id });
        return { endpoint: endpointNode(rows[0]), secret };
      });
    },
    deleteWebhookEndpoint: (_: unknown, args: { id: string }, ctx: RequestContext) => {
      const id = endpointIdOf(args.id);
      if (id === null) throw notFound();
      return ctx.db.run(ctx.principal, async (c, tenantId) => {
        const res = await c.query("DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2", [tenantId, id]);
        if (res.rowCount === 0) throw notFound();
        await recordAudit(c, tenantId!, ctx, { action: "webhook_endpoint.delete", entityType: "webhook_endpoint", entityId: id });
        return true;
      });
    },
  },
};
