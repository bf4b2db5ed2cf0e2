/**
 * The content hash of a billing document: SHA-256 over its RFC 8785 (JSON Canonicalization Scheme)
 * serialization, so any party can recompute it from the JSON alone, in any language, byte for
 * byte. Browser-safe (no Node APIs): the dashboard verifies with the same code.
 */
import canonicalize from "canonicalize";
import { sha256, stringToBytes, type Hex } from "viem";

export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError("value cannot be canonicalized as JSON");
  return text;
}

export function documentHash(content: unknown): Hex {
  return sha256(stringToBytes(canonicalJson(content)));
}
