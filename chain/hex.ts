/**
 * The one home of hex <-> bytes conversions. PostgreSQL stores addresses and hashes as bytea
 * (Buffer in node-postgres); everything that leaves the process speaks 0x-prefixed lower-case hex.
 */
import type { Hex } from "viem";

/** 0x-prefixed lower-case hex of a byte string (a Buffer from bytea, or any Uint8Array). */
export function toHex(bytes: Uint8Array): Hex {
  return `0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")}`;
}

/** {@link toHex}, passing null and undefined through as null (nullable bytea columns). */
export function toHexOrNull(bytes: Uint8Array | null | undefined): Hex | null {
  return bytes ? toHex(bytes) : null;
}

/**
 * The digits of a hex string, without its 0x: the form PostgreSQL's `decode(…, 'hex')` and COPY's
 * `\x` bytea input take. Not validated (the server rejects a bad digit); cheap enough for one call
 * per usage record.
 */
export function hexDigits(hex: string): string {
  return hex.startsWith("0x") || hex.startsWith("0X") ? hex.slice(2) : hex;
}

/** Bytes of a hex string, with or without 0x. Throws on odd length or a non-hex digit. */
export function fromHex(hex: string): Buffer {
  const body = hexDigits(hex);
  if (body.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(body)) throw new TypeError(`not a hex string: ${hex.slice(0, 80)}`);
  return Buffer.from(body, "hex");
}

/** True for a 0x-prefixed hex string of exactly `bytes` bytes. */
export function isHexOfLength(value: string, bytes: number): value is Hex {
  return value.length === 2 + bytes * 2 && /^0x[0-9a-fA-F]*$/.test(value);
}

/**
 * A bytes32 name as text: UTF-8 up to the trailing zeros. Names that are not printable UTF-8 keep
 * their hex form, so they stay unique and never carry NUL or control bytes into text columns or
 * terminals.
 */
export function bytes32ToText(name: Hex): string {
  const bytes = fromHex(name);
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  if (end === 0) return name;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, end));
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(text)) return name;
    return text;
  } catch {
    return name;
  }
}
