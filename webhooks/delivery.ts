import type pg from "pg";
import { activeSecrets } from "./endpoints";
import type { KeyRing } from "./secrets";
import { checkUrl, PRODUCTION_POLICY, type DestinationPolicy } from "./destinations";
import { postWebhook } from "./post";
import { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signatureHeader, standardWebhookHeaders } from "./signing";

export interface DeliveryOptions {
  keyRing: KeyRing;
  /** Which destinations may be contacted (checked again on the connection's address). */
  destinations: DestinationPolicy;
  /** Attempts after which a delivery is dead-lettered. */
  maxAttempts: number;
  /** First retry delay; doubles per attempt up to maxBackoffMs. */
  baseBackoffMs: number;
  maxBackoffMs: number;
  /** How long a claimed delivery is reserved for the claiming worker; after it, another worker retries. */
  leaseMs: number;
  requestTimeoutMs: number;
  batchSize: number;
}

export const DEFAULT_DELIVERY_OPTIONS: Omit<DeliveryOptions, "keyRing"> = {
  destinations: PRODUCTION_POLICY,
  maxAttempts: 8,
  baseBackoffMs: 10_000,
  maxBackoffMs: 3_600_000,
  leaseMs: 60_000,
  requestTimeoutMs: 10_000,
  batchSize: 50,
};

/** Test seam for crash simulation: runs after the POST got a response, before it is recorded. */
export interface DeliveryHooks {
  afterSend?: (deliveryId: string) => void | Promise<void>;
}

export interface DeliveryOutcome {
  id: string;
  status: "delivered" | "retry" | "dead";
  httpStatus: number | null;
  error: string | null;
}

export function backoffMs(attempt: number, opts: Pick<DeliveryOptions, "baseBackoffMs" | "maxBackoffMs">): number {
  const exp = Math.min(attempt - 1, 30);
  return Math.min(opts.baseBackoffMs * 2 ** exp, opts.maxBackoffMs);
}

interface Claimed {
  id: string;
  attempts: number;
  event_id: string;
  event_type: string;
  payload: unknown;
  event_created_at: Date;
  endpoint_id: string;
  url: string;
  secret_ciphertext: Buffer;
  secret_key_id: string;
  previous_secret_ciphertext: Buffer | null;
  previous_secret_key_id: string | null;
  previous_secret_expires_at: Date | null;
}

/**
 * Delivers due webhook deliveries once. A delivery is first claimed (attempts + 1, reserved for
 * leaseMs) and committed, then POSTed, then recorded. A crash anywhere in between leaves it pending
 * with its id: after the lease it is sent again under the same Meterline-Delivery id, so delivery is
 * at-least-once and receivers deduplicate by id. Nothing is lost and no id is ever re-minted.
 */
export async function deliverDueOnce(
  db: { pool: pg.Pool },
  options: DeliveryOptions,
  now?: Date,
  hooks: DeliveryHooks = {},
): Promise<DeliveryOutcome[]> {
  // Without an explicit time, "due" is judged by the database's clock: events are stamped with it,
  // and a JavaScript Date (whole milliseconds) can fall just before a row enqueued in the same
  // millisecond, leaving it for the next pass.
  const { rows } = await db.pool.query<Claimed>(
    `WITH due AS (
       SELECT id FROM webhook_deliveries
        WHERE status = 'pending' AND next_attempt_at <= coalesce($1::timestamptz, clock_timestamp())
        ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED
     ), claimed AS (
       UPDATE webhook_deliveries d SET attempts = d.attempts + 1,
              next_attempt_at = coalesce($1::timestamptz, clock_timestamp()) + make_interval(secs => $3::double precision / 1000)
         FROM due WHERE d.id = due.id
       RETURNING d.id, d.attempts, d.event_id, d.endpoint_id
     )
     SELECT c.id, c.attempts, c.event_id, o.event_type, o.payload, o.created_at AS event_created_at, c.endpoint_id,
            e.url, e.secret_ciphertext, e.secret_key_id, e.previous_secret_ciphertext, e.previous_secret_key_id, e.previous_secret_expires_at
       FROM claimed c JOIN webhook_outbox o ON o.id = c.event_id JOIN webhook_endpoints e ON e.id = c.endpoint_id`,
    [now ?? null, options.batchSize, options.leaseMs],
  );
  const outcomes: DeliveryOutcome[] = [];
  for (const d of rows) outcomes.push(await deliverOne(db, d, options, now ?? new Date(), hooks));
  return outcomes;
}

/** The JSON body: identical on every attempt of a delivery. */
export function deliveryBody(d: { event_id: string; event_type: string; payload: unknown; event_created_at: Date }): string {
  return JSON.stringify({ id: d.event_id, type: d.event_type, createdAt: d.event_created_at.toISOString(), data: d.payload });
}

async function deliverOne(db: { pool: pg.Pool }, d: Claimed, options: DeliveryOptions, now: Date, hooks: DeliveryHooks): Promise<DeliveryOutcome> {
  const body = deliveryBody(d);
  let httpStatus: number | null = null;
  let error: string | null = null;
  try {
    const { url, secrets } = activeSecrets(options.keyRing, { ...d, id: d.endpoint_id }, now);
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = {
      "content-type": "application/json",
      [SIGNATURE_HEADER]: signatureHeader(secrets, timestamp, body),
      [DELIVERY_HEADER]: d.id,
      [EVENT_HEADER]: d.event_type,
      ...standardWebhookHeaders(secrets, d.id, timestamp, body),
    };
    // Redirects are not followed: a 3xx is a failed attempt, so a receiver cannot bounce a
    // delivery to an internal address.
    httpStatus = await postWebhook(checkUrl(url, options.destinations), headers, body, { timeoutMs: options.requestTimeoutMs, policy: options.destinations });
    if (httpStatus < 200 || httpStatus >= 300) error = `HTTP ${httpStatus}`;
  } catch (err) {
    error = (err as Error).message;
  }
  await hooks.afterSend?.(d.id);
  if (error === null) {
    await db.pool.query(
      "UPDATE webhook_deliveries SET status = 'delivered', delivered_at = $2, last_status_code = $3, last_error = NULL WHERE id = $1",
      [d.id, now, httpStatus],
    );
    return { id: d.id, status: "delivered", httpStatus, error };
  }
  const dead = d.attempts >= options.maxAttempts;
  await db.pool.query(
    `UPDATE webhook_deliveries SET status = $2, last_status_code = $3, last_error = $4,
            next_attempt_at = $5::timestamptz + make_interval(secs => $6::double precision / 1000)
      WHERE id = $1 AND status = 'pending'`,
    [d.id, dead ? "dead" : "pending", httpStatus, error.slice(0, 500), now, dead ? 0 : backoffMs(d.attempts, options)],
  );
  return { id: d.id, status: dead ? "dead" : "retry", httpStatus, error };
}

/** Sends a dead-lettered delivery again (same id), e.g. after the receiver was fixed. */
export async function redeliver(db: { pool: pg.Pool }, tenantId: string, deliveryId: string): Promise<boolean> {
  const { rowCount } = await db.pool.query(
    "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = now() WHERE tenant_id = $1 AND id = $2 AND status = 'dead'",
    [tenantId, deliveryId],
  );
  return rowCount === 1;
}
