import { randomUUID } from "node:crypto";
import type pg from "pg";
import { z } from "zod";
import { checkUrl, PRODUCTION_POLICY, resolvePublic, WebhookDestinationError, type DestinationPolicy } from "./destinations";
import { WEBHOOK_EVENT_TYPES } from "./events";
import { newSigningSecret, openSecret, sealSecret, type KeyRing } from "./secrets";

export class WebhookEndpointError extends Error {
  override name = "WebhookEndpointError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

const createSchema = z.object({
  tenantId: z.string().regex(/^\d+$/),
  url: z.string().max(2000, "url: at most 2000 characters"),
  eventTypes: z.array(z.enum(WEBHOOK_EVENT_TYPES)).min(1),
});

type Db = Pick<pg.Pool, "query">;

/** Creates an endpoint and returns its signing secret: the only time the plaintext is shown. */
export async function createEndpoint(
  db: Db,
  ring: KeyRing,
  input: { tenantId: string; url: string; eventTypes: string[] },
  policy: DestinationPolicy = PRODUCTION_POLICY,
): Promise<{ id: string; secret: string }> {
  const parsed = createSchema.safeParse(input);
  if (!parsed.success) throw new WebhookEndpointError(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
  try {
    await resolvePublic(checkUrl(parsed.data.url, policy), policy);
  } catch (err) {
    if (err instanceof WebhookDestinationError) throw new WebhookEndpointError(err.message, { cause: err });
    throw err;
  }
  const id = randomUUID();
  const secret = newSigningSecret();
  const sealed = sealSecret(ring, id, secret);
  await db.query(
    `INSERT INTO webhook_endpoints (tenant_id, id, url, event_types, secret_ciphertext, secret_key_id) VALUES ($1, $2, $3, $4, $5, $6)`,
    [parsed.data.tenantId, id, parsed.data.url, [...new Set(parsed.data.eventTypes)], sealed.ciphertext, sealed.keyId],
  );
  return { id, secret };
}

/**
 * Replaces the secret; the previous one keeps signing (as a second v1) until `now + overlapMs`, so
 * receivers can switch without dropping deliveries. Returns the new secret, shown once.
 */
export async function rotateEndpointSecret(
  db: Db,
  ring: KeyRing,
  tenantId: string,
  endpointId: string,
  overlapMs: number,
  now: Date = new Date(),
): Promise<{ secret: string; previousValidUntil: Date }> {
  if (!Number.isSafeInteger(overlapMs) || overlapMs < 0) throw new WebhookEndpointError("overlapMs must be a non-negative integer");
  const secret = newSigningSecret();
  const until = new Date(now.getTime() + overlapMs);
  const sealed = sealSecret(ring, endpointId, secret);
  const { rowCount } = await db.query(
    `UPDATE webhook_endpoints
        SET previous_secret_ciphertext = secret_ciphertext, previous_secret_key_id = secret_key_id, previous_secret_expires_at = $3,
            secret_ciphertext = $4, secret_key_id = $6, rotated_at = $5
      WHERE tenant_id = $1 AND id = $2`,
    [tenantId, endpointId, until, sealed.ciphertext, now, sealed.keyId],
  );
  if (rowCount !== 1) throw new WebhookEndpointError(`endpoint ${endpointId} not found`);
  return { secret, previousValidUntil: until };
}

/** Deletes an endpoint and its pending deliveries. */
export async function deleteEndpoint(db: Db, tenantId: string, endpointId: string): Promise<boolean> {
  const { rowCount } = await db.query("DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2", [tenantId, endpointId]);
  return rowCount === 1;
}

export interface EndpointSecrets {
  url: string;
  /** Current secret first, then the previous one while its overlap lasts. */
  secrets: string[];
}

/** Decrypts the secrets that sign a delivery made at `now`. */
export function activeSecrets(
  ring: KeyRing,
  row: {
    id: string;
    url: string;
    secret_ciphertext: Buffer;
    secret_key_id: string;
    previous_secret_ciphertext: Buffer | null;
    previous_secret_key_id: string | null;
    previous_secret_expires_at: Date | null;
  },
  now: Date,
): EndpointSecrets {
  const secrets = [openSecret(ring, row.id, { keyId: row.secret_key_id, ciphertext: row.secret_ciphertext })];
  if (row.previous_secret_ciphertext && row.previous_secret_key_id && row.previous_secret_expires_at && row.previous_secret_expires_at.getTime() > now.getTime()) {
    secrets.push(openSecret(ring, row.id, { keyId: row.previous_secret_key_id, ciphertext: row.previous_secret_ciphertext }));
  }
  return { url: row.url, secrets };
}

/**
 * Re-seals every secret not under the ring's current key (current and overlapping previous
 * secrets alike), in batches, each batch in one statement per row under a row lock, so a
 * concurrent rotation or delivery never sees a half-written row. Returns how many were re-sealed;
 * afterwards keys other than the current one can leave the ring.
 */
export async function reencryptSecrets(db: Pick<pg.Pool, "query" | "connect">, ring: KeyRing, batchSize = 200): Promise<number> {
  let total = 0;
  for (;;) {
    const client = await db.connect();
    let moved = 0;
    try {
      await client.query("BEGIN");
      const { rows } = await client.query<{
        id: string;
        secret_ciphertext: Buffer;
        secret_key_id: string;
        previous_secret_ciphertext: Buffer | null;
        previous_secret_key_id: string | null;
      }>(
        `SELECT id, secret_ciphertext, secret_key_id, previous_secret_ciphertext, previous_secret_key_id FROM webhook_endpoints
          WHERE secret_key_id <> $1 OR (previous_secret_key_id IS NOT NULL AND previous_secret_key_id <> $1)
          ORDER BY id LIMIT $2 FOR UPDATE`,
        [ring.current.id, batchSize],
      );
      for (const r of rows) {
        const current = sealSecret(ring, r.id, openSecret(ring, r.id, { keyId: r.secret_key_id, ciphertext: r.secret_ciphertext }));
        const previous =
          r.previous_secret_ciphertext && r.previous_secret_key_id
            ? sealSecret(ring, r.id, openSecret(ring, r.id, { keyId: r.previous_secret_key_id, ciphertext: r.previous_secret_ciphertext }))
            : null;
        await client.query(
          `UPDATE webhook_endpoints SET secret_ciphertext = $2, secret_key_id = $3, previous_secret_ciphertext = $4, previous_secret_key_id = $5 WHERE id = $1`,
          [r.id, current.ciphertext, current.keyId, previous?.ciphertext ?? null, previous?.keyId ?? null],
        );
        moved++;
      }
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
    total += moved;
    if (moved < batchSize) return total;
  }
}
