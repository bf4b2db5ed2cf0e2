import { randomUUID } from "node:crypto";
import type pg from "pg";
import { z } from "zod";
import { WEBHOOK_EVENT_TYPES } from "./events";
import { decryptSecret, encryptSecret, newSigningSecret } from "./secrets";

export class WebhookEndpointError extends Error {
  override name = "WebhookEndpointError";
}

const createSchema = z.object({
  tenantId: z.string().regex(/^\d+$/),
  url: z.string().url().refine((u) => /^https?:\/\//.test(u), "url must be http(s)"),
  eventTypes: z.array(z.enum(WEBHOOK_EVENT_TYPES)).min(1),
});

type Db = Pick<pg.Pool, "query">;

/** Creates an endpoint and returns its signing secret: the only time the plaintext is shown. */
export async function createEndpoint(
  db: Db,
  key: Buffer,
  input: { tenantId: string; url: string; eventTypes: string[] },
): Promise<{ id: string; secret: string }> {
  const parsed = createSchema.safeParse(input);
  if (!parsed.success) throw new WebhookEndpointError(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
  const id = randomUUID();
  const secret = newSigningSecret();
  await db.query(
    `INSERT INTO webhook_endpoints (tenant_id, id, url, event_types, secret_ciphertext) VALUES ($1, $2, $3, $4, $5)`,
    [parsed.data.tenantId, id, parsed.data.url, [...new Set(parsed.data.eventTypes)], encryptSecret(key, id, secret)],
  );
  return { id, secret };
}

/**
 * Replaces the secret; the previous one keeps signing (as a second v1) until `now + overlapMs`, so
 * receivers can switch without dropping deliveries. Returns the new secret, shown once.
 */
export async function rotateEndpointSecret(
  db: Db,
  key: Buffer,
  tenantId: string,
  endpointId: string,
  overlapMs: number,
  now: Date = new Date(),
): Promise<{ secret: string; previousValidUntil: Date }> {
  if (!Number.isSafeInteger(overlapMs) || overlapMs < 0) throw new WebhookEndpointError("overlapMs must be a non-negative integer");
  const secret = newSigningSecret();
  const until = new Date(now.getTime() + overlapMs);
  const { rowCount } = await db.query(
    `UPDATE webhook_endpoints
        SET previous_secret_ciphertext = secret_ciphertext, previous_secret_expires_at = $3,
            secret_ciphertext = $4, rotated_at = $5
      WHERE tenant_id = $1 AND id = $2`,
    [tenantId, endpointId, until, encryptSecret(key, endpointId, secret), now],
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
  key: Buffer,
  row: { id: string; url: string; secret_ciphertext: Buffer; previous_secret_ciphertext: Buffer | null; previous_secret_expires_at: Date | null },
  now: Date,
): EndpointSecrets {
  const secrets = [decryptSecret(key, row.id, row.secret_ciphertext)];
  if (row.previous_secret_ciphertext && row.previous_secret_expires_at && row.previous_secret_expires_at.getTime() > now.getTime()) {
    secrets.push(decryptSecret(key, row.id, row.previous_secret_ciphertext));
  }
  return { url: row.url, secrets };
}
