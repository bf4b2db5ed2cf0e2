import { fromHex, toHex } from "../../chain/hex";

/**
 * Opaque global ids: base64url("Type:key"). Keys of tenant-scoped composite entities include the
 * tenant id, so a decoded id of another tenant is rejected before any query (and row-level
 * security would hide the row anyway); callers answer that exactly like an unknown id.
 */
export type NodeType =
  | "Tenant"
  | "Meter"
  | "UsageRecord"
  | "Commitment"
  | "Quota"
  | "Invoice"
  | "CreditNote"
  | "WebhookEndpoint"
  | "WebhookDelivery"
  | "Plan"
  | "PlanVersion"
  | "PlanSubscription"
  | "AuditEntry"
  | "IdentityProvider";

export function toGlobalId(type: NodeType, ...key: (string | number | bigint)[]): string {
  return Buffer.from(`${type}:${key.join(":")}`, "utf8").toString("base64url");
}

/** The key parts of an id of `type`, or null for anything else (malformed, other type). */
export function fromGlobalId(id: string, type: NodeType, parts: number): string[] | null {
  if (id.length > 400 || !/^[A-Za-z0-9_-]+$/.test(id)) return null;
  const decoded = Buffer.from(id, "base64url").toString("utf8");
  const prefix = `${type}:`;
  if (!decoded.startsWith(prefix)) return null;
  const key = decoded.slice(prefix.length).split(":");
  if (key.length !== parts || key.some((k) => k === "" || !/^[A-Za-z0-9_-]+$/.test(k))) return null;
  return key;
}

/** Keyset pagination cursors: opaque base64url JSON arrays. */
export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key), "utf8").toString("base64url");
}

export function decodeCursor(cursor: string, length: number): string[] | null {
  if (cursor.length > 600 || !/^[A-Za-z0-9_-]+$/.test(cursor)) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (!Array.isArray(value) || value.length !== length) return null;
    if (!value.every((v) => typeof v === "string" || typeof v === "number")) return null;
    return value.map(String);
  } catch {
    return null;
  }
}

/**
 * A hash as a key part of an id or a cursor: hex without the 0x (base64url of "Type:key" keeps
 * ids short, and ":" separates the parts).
 */
export const hashKey = (bytes: Uint8Array): string => toHex(bytes).slice(2);

/** The bytes of a 32-byte hash key, or null when `key` is not one. */
export function hashOfKey(key: string): Buffer | null {
  return /^[0-9a-f]{64}$/.test(key) ? fromHex(key) : null;
}
