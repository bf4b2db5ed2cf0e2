/**
 * Billing's anchoring key: a 0x private key, or an Ethereum V3 keystore file (scrypt or pbkdf2,
 * aes-128-ctr) opened with a password. The key is held in a {@link Secret} so that it cannot reach
 * a log line, an error message or JSON by accident.
 */
import { createDecipheriv, pbkdf2Sync, scryptSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { inspect } from "node:util";
import { keccak256, type Hex } from "viem";
import { privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { z } from "zod";
import { BillingError } from "../errors";

/** A value that prints as "[redacted]" everywhere; `reveal()` is the only way to read it. */
export class Secret<T> {
  readonly #value: T;
  constructor(value: T) {
    this.#value = value;
  }
  reveal(): T {
    return this.#value;
  }
  toString(): string {
    return "[redacted]";
  }
  toJSON(): string {
    return "[redacted]";
  }
  [inspect.custom](): string {
    return "[redacted]";
  }
}

export type SignerSource = { kind: "key"; key: Secret<Hex> } | { kind: "keystore"; path: string; password: Secret<string> };

export class SignerKeyError extends BillingError {
  override name = "SignerKeyError";
}

const keystoreSchema = z.object({
  crypto: z.object({
    cipher: z.literal("aes-128-ctr"),
    ciphertext: z.string().regex(/^[0-9a-fA-F]+$/),
    cipherparams: z.object({ iv: z.string().regex(/^[0-9a-fA-F]{32}$/) }),
    kdf: z.enum(["scrypt", "pbkdf2"]),
    kdfparams: z.object({
      salt: z.string().regex(/^[0-9a-fA-F]*$/),
      dklen: z.number().int().min(32),
      n: z.number().int().positive().optional(),
      r: z.number().int().positive().optional(),
      p: z.number().int().positive().optional(),
      c: z.number().int().positive().optional(),
      prf: z.literal("hmac-sha256").optional(),
    }),
    mac: z.string().regex(/^[0-9a-fA-F]{64}$/),
  }),
});

/** Decrypts a V3 keystore (what geth, Foundry's `cast wallet` and ethers write). */
export function decryptKeystore(json: string, password: string, source = "keystore"): Hex {
  let parsed: z.infer<typeof keystoreSchema>;
  try {
    const raw = JSON.parse(json) as { crypto?: unknown; Crypto?: unknown };
    parsed = keystoreSchema.parse({ crypto: raw.crypto ?? raw.Crypto });
  } catch (err) {
    throw new SignerKeyError(`BILLING_SIGNER_KEYSTORE: ${source} is not a V3 keystore (scrypt or pbkdf2, aes-128-ctr)`, { cause: err });
  }
  const { kdf, kdfparams: k, ciphertext, cipherparams, mac } = parsed.crypto;
  const salt = Buffer.from(k.salt, "hex");
  const derived =
    kdf === "scrypt"
      ? scryptSync(password, salt, k.dklen, { N: k.n ?? 262_144, r: k.r ?? 8, p: k.p ?? 1, maxmem: 512 * 1024 * 1024 })
      : pbkdf2Sync(password, salt, k.c ?? 262_144, k.dklen, "sha256");
  const cipherBytes = Buffer.from(ciphertext, "hex");
  const expected = keccak256(Buffer.concat([derived.subarray(16, 32), cipherBytes])).slice(2);
  if (expected !== mac.toLowerCase()) throw new SignerKeyError(`BILLING_SIGNER_PASSWORD: does not open ${source} (MAC mismatch)`);
  const decipher = createDecipheriv("aes-128-ctr", derived.subarray(0, 16), Buffer.from(cipherparams.iv, "hex"));
  const key = Buffer.concat([decipher.update(cipherBytes), decipher.final()]);
  if (key.length !== 32) throw new SignerKeyError(`BILLING_SIGNER_KEYSTORE: ${source} holds a ${key.length}-byte key, expected 32`);
  return `0x${key.toString("hex")}`;
}

/** The signing account; the key itself stays inside viem's account. */
export function openSigner(source: SignerSource): PrivateKeyAccount {
  if (source.kind === "key") return privateKeyToAccount(source.key.reveal());
  let json: string;
  try {
    json = readFileSync(source.path, "utf8");
  } catch (err) {
    throw new SignerKeyError(`BILLING_SIGNER_KEYSTORE: cannot read ${source.path} (${(err as NodeJS.ErrnoException).code ?? "error"})`, { cause: err });
  }
  return privateKeyToAccount(decryptKeystore(json, source.password.reveal(), source.path));
}
