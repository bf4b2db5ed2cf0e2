/**
 * The account tasks send from: METERLINE_PRIVATE_KEY when set (on any network, including the
 * in-process one), else the node's first account (Hardhat's or an unlocked node's).
 */
import { Wallet, type Signer } from "ethers";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { z } from "zod";

export class SignerError extends Error {
  override name = "SignerError";
}

const privateKeySchema = z
  .string()
  .trim()
  .regex(/^(0x)?[0-9a-fA-F]{64}$/, "METERLINE_PRIVATE_KEY must be 32 bytes of hex (0x optional)")
  .transform((k) => (k.startsWith("0x") ? k : `0x${k}`));

export interface ResolvedSigner {
  signer: Signer;
  address: string;
  /** Where the key came from, for messages. */
  source: "env" | "node";
}

export async function resolveSigner(
  hre: HardhatRuntimeEnvironment,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ResolvedSigner> {
  const raw = env.METERLINE_PRIVATE_KEY;
  if (raw !== undefined && raw !== "") {
    const key = privateKeySchema.safeParse(raw);
    if (!key.success) throw new SignerError(key.error.issues[0]?.message ?? "invalid METERLINE_PRIVATE_KEY");
    const wallet = new Wallet(key.data, hre.ethers.provider);
    return { signer: wallet, address: wallet.address, source: "env" };
  }
  const signers = await hre.ethers.getSigners();
  const first = signers[0];
  if (!first) {
    throw new SignerError(
      `network "${hre.network.name}" exposes no accounts; set METERLINE_PRIVATE_KEY to sign transactions`,
    );
  }
  return { signer: first, address: first.address, source: "node" };
}
