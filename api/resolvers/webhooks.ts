import type { KeyRing } from "../../webhooks/secrets";
import { createEndpoint, deleteEndpoint, rotateEndpointSecret, WebhookEndpointError } from "../../webhooks/endpoints";
import { WEBHOOK_EVENT_TYPES } from "../../webhooks/events";
import type { RequestContext } from "../context";
import { BadInputError, ConflictError, NotFoundError } from "../errors";
import { recordAudit } from "../../db/audit-log";
import { countDeliveries, findDelivery, pageDeliveries, redeliverDead, type DeliveryFilter, type DeliveryRow, type DeliveryStatus } from "../read/webhook-deliveries";
import { findEndpoint, listEndpoints, type EndpointRow } from "../read/webhook-endpoints";
import type { Tx } from "../read/types";
import { fromGlobalId, toGlobalId } from "./ids";
import { afterKey, connection, pageSize } from "./pagination";

// What an audit row keeps of an endpoint: never its secrets.
const audited = (r: EndpointRow) => ({ url: r.url, eventTypes: r.event_types, rotatedAt: r.rotated_at?.toISOString() ?? null });

const endpointNode = (r: EndpointRow) => ({
  id: toGlobalId("WebhookEndpoint", r.id),
  url: r.url,
  eventTypes: r.event_types,
  createdAt: r.created_at,
  rotatedAt: r.rotated_at,
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function endpointIdOf(id: string): string | null {
  const key = fromGlobalId(id, "WebhookEndpoint", 1);
  return key && UUID.test(key[0]!) ? key[0]! : null;
}

function deliveryIdOf(id: string): string | null {
  const key = fromGlobalId(id, "WebhookDelivery", 1);
  return key && UUID.test(key[0]!) ? key[0]! : null;
}

type DeliveryStatusArg = "PENDING" | "DELIVERED" | "DEAD";

const deliveryNode = (r: DeliveryRow, endpoint: EndpointRow) => ({
  id: toGlobalId("WebhookDelivery", r.id),
  deliveryId: r.id,
  endpoint: endpointNode(endpoint),
  eventType: r.event_type,
  eventId: r.event_id,
  eventCreatedAt: r.event_created_at,
  status: r.status.toUpperCase(),
  attempts: r.attempts,
  nextAttemptAt: r.status === "pending" ? r.next_attempt_at : null,
  lastStatusCode: r.last_status_code,
  lastError: r.last_error,
  deliveredAt: r.delivered_at,
  createdAt: r.created_at,
});

// What an audit row keeps of a delivery: where it goes and where it stood, not the event's payload.
const auditedDelivery = (r: DeliveryRow) => ({ endpointId: r.endpoint_id, eventType: r.event_type, status: r.status, attempts: r.attempts, lastError: r.last_error });

// Why a delivery that is not dead cannot be redelivered, in the operator's terms.
const NOT_DEAD: Record<Exclude<DeliveryStatus, "dead">, string> = {
  pending: "is pending: it is still being retried on its schedule",
  delivered: "was delivered already",
};

async function endpointsById(c: Tx, tenantId: string): Promise<Map<string, EndpointRow>> {
  return new Map((await listEndpoints(c, tenantId)).map((e) => [e.id, e]));
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
    webhookDeliveries: (
      _: unknown,
      args: { endpoint?: string | null; status?: DeliveryStatusArg | null; first?: number | null; after?: string | null },
      ctx: RequestContext,
    ) => {
      const first = pageSize(args.first);
      const after = afterKey(args.after, 2);
      if (after && (!/^\d{1,20}$/.test(after[0]!) || !UUID.test(after[1]!))) throw new BadInputError("invalid cursor", { field: "after" });
      let endpointId: string | null = null;
      if (args.endpoint !== null && args.endpoint !== undefined) {
        endpointId = endpointIdOf(args.endpoint);
        if (endpointId === null) throw new BadInputError("not a webhook endpoint id", { field: "endpoint" });
      }
      const filter: DeliveryFilter = { endpointId, status: args.status ? (args.status.toLowerCase() as DeliveryStatus) : null };
      return ctx.db.run(ctx.principal, async (c, tenantId) => {
        if (tenantId === null) throw new NotFoundError();
        const endpoints = await endpointsById(c, tenantId);
        // An endpoint of another tenant (or a deleted one) is not there for this tenant.
        if (endpointId !== null && !endpoints.has(endpointId)) throw new NotFoundError();
        const rows = await pageDeliveries(c, tenantId, filter, after ? { createdUs: after[0]!, id: after[1]! } : null, first + 1);
        return connection(
          rows,
          first,
          (r) => deliveryNode(r, endpoints.get(r.endpoint_id)!),
          (r) => [r.created_us, r.id],
          () => ctx.db.run(ctx.principal, (c2, t) => countDeliveries(c2, t, filter)),
        );
      });
    },
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
    redeliverWebhook: (_: unknown, args: { id: string }, ctx: RequestContext) => {
      const id = deliveryIdOf(args.id);
      if (id === null) throw new NotFoundError();
      return ctx.db.run(ctx.principal, async (c, tenantId) => {
        if (tenantId === null) throw new NotFoundError();
        const before = await findDelivery(c, tenantId, id);
        if (before === null) throw new NotFoundError();
        if (before.status !== "dead") throw new ConflictError(`delivery ${id} ${NOT_DEAD[before.status]}; only a dead delivery can be redelivered`);
        // The function re-checks under a row lock: a concurrent redelivery finds it pending.
        const prior = await redeliverDead(c, id);
        if (prior !== "dead") throw new ConflictError(`delivery ${id} ${prior === null ? "is gone" : NOT_DEAD[prior]}; only a dead delivery can be redelivered`);
        const after = (await findDelivery(c, tenantId, id))!;
        const endpoint = (await findEndpoint(c, tenantId, after.endpoint_id))!;
        await recordAudit(c, tenantId, ctx.actor, {
          action: "webhook_delivery.redeliver",
          entityType: "webhook_delivery",
          entityId: id,
          before: auditedDelivery(before),
          after: auditedDelivery(after),
        });
        return deliveryNode(after, endpoint);
      });
    },
  },
};
