import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { z } from "zod";

/**
 * Webhook signing secrets at rest: AES-256-GCM under a key ring. Each key has an id; new secrets
 * are sealed with the ring's current key and remember its id, older secrets still open with the
 * key they name, and `npm run webhooks -- --reencrypt` moves every secret to the current key so
 * old keys can be retired. A ciphertext is iv(12) || tag(16) || ciphertext with the endpoint id as
 * associated data, so one copied onto another endpoint's row does not open.
 *
 * Configuration: WEBHOOK_ENCRYPTION_KEYS="<id>:<base64 of 32 bytes>,…", current key first; or the
 * single WEBHOOK_ENCRYPTION_KEY, which is the ring "default:<key>" (secrets written before key ids
 * existed carry the id "default").
 */
export class WebhookSecretError extends Error {
  override name = "WebhookSecretError";
}

export interface KeyRing {
  /** New secrets are sealed with this key. */
  current: { id: string; key: Buffer };
  keys: ReadonlyMap<string, Buffer>;
}

export const DEFAULT_KEY_ID = "default";

function decodeKey(b64: string, variable: string): Buffer | string {
  const trimmed = b64.trim();
  const key = /^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) ? Buffer.from(trimmed, "base64") : Buffer.alloc(0);
  return key.length === 32 ? key : `${variable}: must be base64 of exactly 32 bytes`;
}

/** The single-key setting (WEBHOOK_ENCRYPTION_KEY): a ring of one key with id "default". */
export const encryptionKeySchema = z
  .string({ required_error: "WEBHOOK_ENCRYPTION_KEY: required (base64 of 32 random bytes)" })
  .transform((v, ctx): KeyRing => {
    const key = decodeKey(v, "WEBHOOK_ENCRYPTION_KEY");
    if (typeof key === "string") {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: key });
      return z.NEVER;
    }
    return { current: { id: DEFAULT_KEY_ID, key }, keys: new Map([[DEFAULT_KEY_ID, key]]) };
  });

/** WEBHOOK_ENCRYPTION_KEYS: "<id>:<base64>,…", the current key first; ids unique, [A-Za-z0-9._-]{1,32}. */
export const keyRingSchema = z.string().transform((v, ctx): KeyRing => {
  const entries = v.split(",").map((e) => e.trim()).filter((e) => e !== "");
  const keys = new Map<string, Buffer>();
  const fail = (message: string) => {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `WEBHOOK_ENCRYPTION_KEYS: ${message}` });
    return z.NEVER;
  };
  if (entries.length === 0) return fail("name at least one key as <id>:<base64 of 32 bytes>");
  for (const [i, entry] of entries.entries()) {
    const at = entry.indexOf(":");
    const id = at > 0 ? entry.slice(0, at) : "";
    if (!/^[A-Za-z0-9._-]{1,32}$/.test(id)) return fail(`entry ${i + 1} needs an id of 1-32 letters, digits, . _ - before ":"`);
    if (keys.has(id)) return fail(`key id "${id}" appears twice`);
    const key = decodeKey(entry.slice(at + 1), `WEBHOOK_ENCRYPTION_KEYS (key "${id}")`);
    if (typeof key === "string") return fail(key.replace(/^WEBHOOK_ENCRYPTION_KEYS: /, ""));
    keys.set(id, key);
  }
  const [id, key] = [...keys.entries()][0]!;
  return { current: { id, key }, keys };
});

/** The ring from WEBHOOK_ENCRYPTION_KEYS, else WEBHOOK_ENCRYPTION_KEY, else undefined. Throws naming the variable. */
export function keyRingFromEnv(env: { WEBHOOK_ENCRYPTION_KEYS?: string; WEBHOOK_ENCRYPTION_KEY?: string }): KeyRing | undefined {
  const parse = (schema: z.ZodType<KeyRing, z.ZodTypeDef, string>, value: string) => {
    const r = schema.safeParse(value);
    if (!r.success) throw new WebhookSecretError(r.error.issues[0]?.message ?? "invalid webhook encryption key");
    return r.data;
  };
  if (env.WEBHOOK_ENCRYPTION_KEYS && env.WEBHOOK_ENCRYPTION_KEYS.trim() !== "") {
    if (env.WEBHOOK_ENCRYPTION_KEY && env.WEBHOOK_ENCRYPTION_KEY.trim() !== "") {
      throw new WebhookSecretError("WEBHOOK_ENCRYPTION_KEY: set either it or WEBHOOK_ENCRYPTION_KEYS, not both");
    }
    return parse(keyRingSchema, env.WEBHOOK_ENCRYPTION_KEYS);
  }
  if (env.WEBHOOK_ENCRYPTION_KEY && env.WEBHOOK_ENCRYPTION_KEY.trim() !== "") return parse(encryptionKeySchema, env.WEBHOOK_ENCRYPTION_KEY);
  return undefined;
}

export interface SealedSecret {
  keyId: string;
  ciphertext: Buffer;
}

export function sealSecret(ring: KeyRing, endpointId: string, secret: string): SealedSecret {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", ring.current.key, iv);
  cipher.setAAD(Buffer.from(endpointId, "utf8"));
  const ct = Buffer.concat([cipher.update(secret, "utf8"), cipher.final()]);
  return { keyId: ring.current.id, ciphertext: Buffer.concat([iv, cipher.getAuthTag(), ct]) };
}

export function openSecret(ring: KeyRing, endpointId: string, sealed: SealedSecret): string {
  const key = ring.keys.get(sealed.keyId);
  if (!key) throw new WebhookSecretError(`secret of endpoint ${endpointId} is sealed with key "${sealed.keyId}", which is not in the key ring`);
  const blob = sealed.ciphertext;
  if (blob.length < 29) throw new WebhookSecretError(`secret of endpoint ${endpointId} is truncated`);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, blob.subarray(0, 12));
    decipher.setAAD(Buffer.from(endpointId, "utf8"));
    decipher.setAuthTag(blob.subarray(12, 28));
    return Buffer.concat([decipher.update(blob.subarray(28)), decipher.final()]).toString("utf8");
  } catch {
    throw new WebhookSecretError(`secret of endpoint ${endpointId} does not open with key "${sealed.keyId}"`);
  }
}

/** A new signing secret: 32 random bytes in standard base64 after `whsec_` (the Standard Webhooks form). */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}
