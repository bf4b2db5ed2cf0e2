import { createCipheriv, randomBytes } from "node:crypto";

/**
 * Webhook signing secrets as stored in webhook_endpoints (see 010_billing.sql): AES-256-GCM,
 * iv (12) || tag (16) || ciphertext, with the endpoint id as associated data, under the key the
 * webhook dispatcher also holds. The API only creates secrets; it never decrypts them.
 */
export interface WebhookSecrets {
  /** A new secret and its ciphertext bound to the endpoint id. */
  create(endpointId: string): { secret: string; ciphertext: Buffer };
}

export function createWebhookSecrets(key: Buffer): WebhookSecrets {
  if (key.length !== 32) throw new Error("webhook secret key must be 32 bytes");
  return {
    create(endpointId) {
      const secret = `whsec_${randomBytes(32).toString("base64url")}`;
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", key, iv);
      cipher.setAAD(Buffer.from(endpointId, "utf8"));
      const body = Buffer.concat([cipher.update(secret, "utf8"), cipher.final()]);
      return { secret, ciphertext: Buffer.concat([iv, cipher.getAuthTag(), body]) };
    },
  };
}
