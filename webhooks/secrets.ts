import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { z } from "zod";

/**
 * Webhook signing secrets at rest: AES-256-GCM with a 32-byte key from the environment
 * (WEBHOOK_ENCRYPTION_KEY, base64). Stored as iv(12) || tag(16) || ciphertext. The endpoint id is
 * the associated data, so a ciphertext copied onto another endpoint's row fails to decrypt.
 */
export class WebhookSecretError extends Error {
  override name = "WebhookSecretError";
}

export const encryptionKeySchema = z
  .string({ required_error: "WEBHOOK_ENCRYPTION_KEY: required (base64 of 32 random bytes)" })
  .transform((v, ctx) => {
    const trimmed = v.trim();
    const key = /^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) ? Buffer.from(trimmed, "base64") : Buffer.alloc(0);
    if (key.length !== 32) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: "WEBHOOK_ENCRYPTION_KEY: must be base64 of exactly 32 bytes" });
      return z.NEVER;
    }
    return key;
  });

export function parseEncryptionKey(value: string | undefined): Buffer {
  const parsed = encryptionKeySchema.safeParse(value);
  if (!parsed.success) throw new WebhookSecretError(parsed.error.issues[0]?.message ?? "invalid WEBHOOK_ENCRYPTION_KEY");
  return parsed.data;
}

export function encryptSecret(key: Buffer, endpointId: string, secret: string): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(endpointId, "utf8"));
  const ct = Buffer.concat([cipher.update(secret, "utf8"), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ct]);
}

export function decryptSecret(key: Buffer, endpointId: string, blob: Buffer): string {
  if (blob.length < 29) throw new WebhookSecretError(`secret of endpoint ${endpointId} is truncated`);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, blob.subarray(0, 12));
    decipher.setAAD(Buffer.from(endpointId, "utf8"));
    decipher.setAuthTag(blob.subarray(12, 28));
    return Buffer.concat([decipher.update(blob.subarray(28)), decipher.final()]).toString("utf8");
  } catch {
    throw new WebhookSecretError(`secret of endpoint ${endpointId} does not decrypt with this key`);
  }
}

/** A new signing secret: 32 random bytes, base64url, with a recognizable prefix. */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString("base64url")}`;
}
