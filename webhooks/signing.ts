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
