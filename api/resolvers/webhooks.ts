import type { KeyRing } from "../../webhooks/secrets";
import { createEndpoint, deleteEndpoint, rotateEndpointSecret, WebhookEndpointError } from "../../webhooks/endpoints";
import { WEBHOOK_EVENT_TYPES } from "../../webhooks/events";
import type { RequestContext } from "../context";
import { BadInputError, NotFoundError } from "../errors";
import { recordAudit } from "../../db/audit-log";
import { findEndpoint, listEndpoints, type EndpointRow } from "../read/webhook-endpoints";
import { fromGlobalId, toGlobalId } from "./ids";

// What an audit row keeps of an endpoint: never its secrets.
const audited = (r: EndpointRow) => ({ url: r.url, eventTypes: r.event_types, rotatedAt: r.rotated_at?.toISOString() ?? null });

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

function keyOf(ctx: RequestContext): KeyRing {
  // Without the dispatcher's key a secret could be shown but never used to sign: refuse.
  if (!ctx.webhookKey) throw new BadInputError("webhook endpoints are not enabled on this server");
  return ctx.webhookKey;
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

// Rotation keeps the previous secret signing for a day so receivers can switch without losing events.
const PREVIOUS_SECRET_OVERLAP_MS = 24 * 3600 * 1000;

export const webhookResolvers = {
  Query: {
    webhookEndpoints: (_: unknown, __: unknown, ctx: RequestContext) =>
      ctx.db.run(ctx.principal, async (c, tenantId) => (await listEndpoints(c, tenantId)).map(endpointNode)),
  },
  Mutation: {
    createWebhookEndpoint: (_: unknown, args: { input: { url: string; eventTypes: string[] } }, ctx: RequestContext) => {
      const { url, eventTypes } = args.input;
      const key = keyOf(ctx);
      if (!validUrl(url)) throw new BadInputError("url must be an http(s) URL without credentials");
      if (eventTypes.length > 10) throw new BadInputError("at most 10 event types");
      return ctx.db.run(ctx.principal, async (c, tenantId) => {
        if (tenantId === null) throw new NotFoundError();
        let created: { id: string; secret: string };
        try {
          created = await createEndpoint(c, key, { tenantId, url, eventTypes }, ctx.webhookDestinations);
        } catch (err) {
          if (err instanceof WebhookEndpointError) throw new BadInputError(`eventTypes must be among ${WEBHOOK_EVENT_TYPES.join(", ")}`, { cause: err });
          throw err;
        }
        const row = (await findEndpoint(c, tenantId, created.id))!;
        await recordAudit(c, tenantId, ctx.actor, { action: "webhook_endpoint.create", entityType: "webhook_endpoint", entityId: created.id, before: null, after: audited(row) });
        return { endpoint: endpointNode(row), secret: created.secret };
      });
    },
    rotateWebhookSecret: (_: unknown, args: { id: string }, ctx: RequestContext) => {
      const id = endpointIdOf(args.id);
      if (id === null) throw new NotFoundError();
      const key = keyOf(ctx);
      return ctx.db.run(ctx.principal, async (c, tenantId) => {
        const before = tenantId === null ? null : await findEndpoint(c, tenantId, id);
        if (tenantId === null || before === null) throw new NotFoundError();
        let rotated: { secret: string };
        try {
          rotated = await rotateEndpointSecret(c, key, tenantId, id, PREVIOUS_SECRET_OVERLAP_MS);
        } catch (err) {
          if (err instanceof WebhookEndpointError) throw new NotFoundError({ cause: err });
          throw err;
        }
        const after = (await findEndpoint(c, tenantId, id))!;
        await recordAudit(c, tenantId, ctx.actor, {
          action: "webhook_endpoint.rotate_secret",
          entityType: "webhook_endpoint",
          entityId: id,
          before: audited(before),
          after: audited(after),
        });
        return { endpoint: endpointNode(after), secret: rotated.secret };
      });
    },
    deleteWebhookEndpoint: (_: unknown, args: { id: string }, ctx: RequestContext) => {
      const id = endpointIdOf(args.id);
      if (id === null) throw new NotFoundError();
      return ctx.db.run(ctx.principal, async (c, tenantId) => {
        const before = tenantId === null ? null : await findEndpoint(c, tenantId, id);
        if (tenantId === null || before === null || !(await deleteEndpoint(c, tenantId, id))) throw new NotFoundError();
        await recordAudit(c, tenantId, ctx.actor, { action: "webhook_endpoint.delete", entityType: "webhook_endpoint", entityId: id, before: audited(before), after: null });
        return true;
      });
    },
  },
};
