/**
 * How a tenant's name becomes the bytes32 name UsageMeter registered it under. Today names are
 * registered in plain text; a deployment that keeps tenant names off the public chain registers a
 * keyed hash of the name instead, and the tenant verifies with its key. The verifier only ever
 * needs `onchainName`, so another scheme plugs in without touching the checks.
 */
import { sha256, stringToBytes, stringToHex, type Hex } from "viem";
import { VerifierError } from "./result";

export interface TenantNaming {
  /** Shown in reports; never the key. */
  readonly scheme: string;
  onchainName(name: string): Hex;
}

/** The name's UTF-8 bytes, zero-padded to 32 (what `meter:tenant register` writes). */
export const plainNaming: TenantNaming = {
  scheme: "plain",
  onchainName(name: string): Hex {
    const bytes = stringToBytes(name);
    if (bytes.length === 0 || bytes.length > 32) throw new VerifierError(`tenant name "${name}" must be 1 to 32 bytes of UTF-8 to be an on-chain name`);
    return stringToHex(name, { size: 32 });
  },
};

const BLOCK = 64;

/** HMAC-SHA256 (RFC 2104) over viem's SHA-256, so the core needs no crypto module and runs in a browser. */
export function hmacSha256(key: Uint8Array, message: Uint8Array): Hex {
  const k = new Uint8Array(BLOCK);
  k.set(key.length > BLOCK ? sha256(key, "bytes") : key);
  const inner = new Uint8Array(BLOCK + message.length);
  const outer = new Uint8Array(BLOCK + 32);
  for (let i = 0; i < BLOCK; i++) {
    inner[i] = k[i]! ^ 0x36;
    outer[i] = k[i]! ^ 0x5c;
  }
  inner.set(message, BLOCK);
  outer.set(sha256(inner, "bytes"), BLOCK);
  return sha256(outer);
}

/** Pseudonymous names: HMAC-SHA256(key, UTF-8 name), a bytes32 that reveals nothing without the key. */
export function keyedNaming(key: Uint8Array): TenantNaming {
  if (key.length < 16) throw new VerifierError("the name key must be at least 16 bytes");
  const secret = Uint8Array.from(key);
  return {
    scheme: "keyed (HMAC-SHA256)",
    onchainName: (name: string) => hmacSha256(secret, stringToBytes(name)),
  };
}
