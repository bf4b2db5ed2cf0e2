import { readFile } from "node:fs/promises";
import { Wallet } from "ethers";
import { isHex, type Hex } from "viem";
import { privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { ReporterConfigError } from "./errors";

/** How the reporter's key is provided. The key material never leaves this module's callers' memory. */
export type SignerSource =
  | { kind: "privateKey"; privateKey: Hex }
  | { kind: "keystore"; file: string; password: string };

/** Loads the reporter's account; errors name the setting but never echo key material. */
export async function loadAccount(source: SignerSource): Promise<PrivateKeyAccount> {
  if (source.kind === "privateKey") {
    if (!isHex(source.privateKey) || source.privateKey.length !== 66) {
      throw new ReporterConfigError("METERLINE_REPORTER_KEY must be 0x followed by 64 hex digits");
    }
    return privateKeyToAccount(source.privateKey);
  }
  let json: string;
  try {
    json = await readFile(source.file, "utf8");
  } catch (err) {
    throw new ReporterConfigError(`cannot read keystore ${source.file}: ${(err as Error).message}`);
  }
  try {
    // ethers implements the Web3 Secret Storage (scrypt/pbkdf2) decryption viem lacks.
    const wallet = await Wallet.fromEncryptedJson(json, source.password);
    return privateKeyToAccount(wallet.privateKey as Hex);
  } catch {
    throw new ReporterConfigError(`cannot decrypt keystore ${source.file} (wrong METERLINE_REPORTER_KEYSTORE_PASSWORD?)`);
  }
}
