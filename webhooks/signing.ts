import { createHmac } from "node:crypto";

export const SIGNATURE_HEADER = "Meterline-Signature";
export const DELIVERY_HEADER = "Meterline-Delivery";
export const EVENT_HEADER = "Meterline-Event";

/** hex HMAC-SHA256(secret, `${timestamp}.${body}`). */
export function signPayload(secret: string, timestamp: number, body: string): string {
  return createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
}

/**
 * `t=<unix>,v1=<hex>[,v1=<hex>]`: one v1 per active secret (two during a rotation's overlap), so a
 * receiver still holding the previous secret keeps verifying until it switches.
 */
export function signatureHeader(secrets: readonly string[], timestamp: number, body: string): string {
  return [`t=${timestamp}`, ...secrets.map((s) => `v1=${signPayload(s, timestamp, body)}`)].join(",");
}

/**
 * The Standard Webhooks headers (standardwebhooks.com), sent beside Meterline's own so receivers can
 * use a ready-made verifier: `webhook-id` (the delivery id, stable across retries), `webhook-timestamp`
 * (unix seconds) and `webhook-signature`: space-separated `v1,<base64 HMAC-SHA256(key, "<id>.<t>.<body>")>`
 * per active secret, where the key is the secret's base64 part after `whsec_`.
 */
export function standardWebhookHeaders(secrets: readonly string[], id: string, timestamp: number, body: string): Record<string, string> {
  const sign = (secret: string) =>
    `v1,${createHmac("sha256", Buffer.from(secret.replace(/^whsec_/, ""), "base64")).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
  return { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": secrets.map(sign).join(" ") };
}
