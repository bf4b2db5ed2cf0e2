/**
 * How tenant and meter names become the bytes32 names UsageMeter registers them under. The one
 * home of the rule: the registration task, the stack's demo, the reporter and the verifier all
 * compute names here, so they cannot drift apart.
 *
 * Keyed naming (the default for new registrations) writes HMAC-SHA256 of the name under a key the
 * platform shares with the tenant, so the chain carries no plaintext name, only a value the tenant
 * recomputes from its own names. Plain naming (UTF-8, zero-padded) is the legacy form, kept as an
 * explicit opt-in for local development and for deployments registered before keyed names.
 *
 * Browser-safe: viem's SHA-256 only, no Node modules (the verifier runs this in the dashboard).
 */
import { sha256, stringToBytes, stringToHex, type Hex } from "viem";

/** A name that cannot be registered, or a key too short to hide names. */
export class NamingError extends Error {
  override readonly name = "NamingError";
}

export interface ChainNaming {
  /** Shown in reports; never the key. */
  readonly scheme: string;
  /** True when names are hashed under a key (nothing readable on chain). */
  readonly keyed: boolean;
  /** The tenant's on-chain name (`registerTenant`, `tenantIdByName`, `TenantRegistered.name`). */
  onchainName(tenant: string): Hex;
  /** A meter's on-chain name within its tenant (`registerMeter`, `meterIdByName`, `MeterRegistered.name`). */
  onchainMeterName(meter: string): Hex;
}

/** The shortest name key accepted: 128 bits, so names cannot be recovered by guessing the key. */
export const MIN_NAME_KEY_BYTES = 16;

/**
 * Meter names are hashed as "meter:" + name, so a meter's on-chain name never equals the tenant
 * name of the same text under the same key (an observer cannot link "this meter is named like
 * that tenant"). Tenant names are hashed bare: HMAC-SHA256(key, name), what the verifier's
 * `--name-key` documents.
 */
export const METER_NAME_PREFIX = "meter:";

function plainName(what: string, name: string): Hex {
  const bytes = stringToBytes(name);
  if (bytes.length === 0 || bytes.length > 32) throw new NamingError(`${what} name "${name}" must be 1 to 32 bytes of UTF-8 to be an on-chain name`);
  return stringToHex(name, { size: 32 });
}

/** The name's UTF-8 bytes, zero-padded to 32: readable by anyone. Local development only. */
export const plainNaming: ChainNaming = {
  scheme: "plain",
  keyed: false,
  onchainName: (tenant: string) => plainName("tenant", tenant),
  onchainMeterName: (meter: string) => plainName("meter", meter),
};

const BLOCK = 64;

/** HMAC-SHA256 (RFC 2104) over viem's SHA-256, so this module needs no crypto module and runs in a browser. */
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

function nonEmpty(what: string, name: string): string {
  if (name.length === 0) throw new NamingError(`${what} name must not be empty`);
  return name;
}

/**
 * Pseudonymous names: tenant = HMAC-SHA256(key, name), meter = HMAC-SHA256(key, "meter:" + name).
 * Without the key a name cannot be tested against the chain, not even by guessing it.
 */
export function keyedNaming(key: Uint8Array): ChainNaming {
  if (key.length < MIN_NAME_KEY_BYTES) throw new NamingError(`the name key must be at least ${MIN_NAME_KEY_BYTES} bytes`);
  const secret = Uint8Array.from(key);
  return {
    scheme: "keyed (HMAC-SHA256)",
    keyed: true,
    onchainName: (tenant: string) => hmacSha256(secret, stringToBytes(nonEmpty("tenant", tenant))),
    onchainMeterName: (meter: string) => hmacSha256(secret, stringToBytes(METER_NAME_PREFIX + nonEmpty("meter", meter))),
  };
}

/**
 * A name key as written in a file or a variable: 0x followed by hex digits (what the platform
 * generates), else the text's UTF-8 bytes. Surrounding whitespace (a file's newline) is ignored.
 */
export function parseNameKey(text: string): Uint8Array {
  const value = text.trim();
  if (/^0x([0-9a-fA-F]{2})+$/.test(value)) {
    const bytes = new Uint8Array((value.length - 2) / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(value.slice(2 + 2 * i, 4 + 2 * i), 16);
    return bytes;
  }
  return stringToBytes(value);
}
