import { fromHex, isHexOfLength } from "../../chain/hex";
import { BadInputError, NotFoundError } from "../errors";
import { fromGlobalId } from "./ids";

/** A 0x-prefixed hex argument of exactly `bytes` bytes, as bytes. */
export function hexArg(value: string, bytes: number, name: string): Buffer {
  if (!isHexOfLength(value, bytes)) throw new BadInputError(`${name} must be 0x-prefixed ${bytes}-byte hex`);
  return fromHex(value);
}

/** The meter_id of a Meter global id of the current tenant, or null (unknown and foreign alike). */
export function meterIdOf(id: string, tenantId: string | null): number | null {
  const key = fromGlobalId(id, "Meter", 2);
  if (!key || tenantId === null || key[0] !== tenantId || !/^\d{1,9}$/.test(key[1]!)) return null;
  return Number(key[1]);
}

/** Like meterIdOf, for arguments where an unknown meter is an error. */
export function requireMeterId(id: string, tenantId: string | null): number {
  const meterId = meterIdOf(id, tenantId);
  if (meterId === null) throw new NotFoundError();
  return meterId;
}

/**
 * The meter_id of a Meter id given as an argument that names a meter to configure or price. An id
 * of another tenant is refused exactly like an id of no meter at all.
 */
export function meterArg(id: string, tenantId: string, field: string): number {
  const meterId = meterIdOf(id, tenantId);
  if (meterId === null) throw new BadInputError("unknown meter", { field });
  return meterId;
}

/** A decimal bigint id (invoice, credit note, plan…), or null for anything else. */
export function decimalIdOf(id: string, type: "Invoice" | "CreditNote" | "Plan" | "PlanVersion"): string | null {
  const key = fromGlobalId(id, type, 1);
  return key && /^\d{1,18}$/.test(key[0]!) ? key[0]! : null;
}
