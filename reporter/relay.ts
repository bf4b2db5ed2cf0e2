import { isAddress, isHex, type Account, type Chain, type Hex, type PublicClient, type Transport, type WalletClient } from "viem";
import { z } from "zod";
import { usageMeterAbi } from "../chain/abi.generated";
import { decodeRevert } from "../chain/revert";
import { CommitmentStatus, type Logger, type RelayPayload } from "./client";
import { ReporterError, TransactionError } from "./errors";

const hex32 = z.string().refine((v) => isHex(v) && v.length === 66, "must be 32 bytes of hex");
const uint = z.string().regex(/^\d+$/);

export const relayPayloadSchema = z.object({
  version: z.literal(1),
  chainId: z.number().int().positive(),
  meter: z.string().refine(isAddress, "must be an address"),
  reporter: z.string().refine(isAddress, "must be an address"),
  items: z.array(
    z.object({
      batchId: z.string(),
      tenantId: z.number().int().positive(),
      salt: hex32,
      commitment: hex32,
      records: z.array(z.object({ packed: uint, ref: hex32 })).min(1),
      nonce: uint.optional(),
      deadline: uint.optional(),
      signature: z.string().refine((v) => isHex(v), "must be hex").optional(),
    }),
  ),
});

export function parseRelayPayload(json: string): RelayPayload {
  const parsed = relayPayloadSchema.safeParse(JSON.parse(json));
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new ReporterError(`relay payload is invalid at ${i.path.join(".")}: ${i.message}`);
  }
  return parsed.data as RelayPayload;
}

export interface RelayOptions {
  publicClient: PublicClient<Transport, Chain | undefined>;
  walletClient: WalletClient<Transport, Chain | undefined, Account>;
  logger: Logger;
  waitForBlock: (block: bigint) => Promise<void>;
}

/**
 * Submits a reporter's signed commits with `commitWithSignature`, then reveals them (anyone may
 * reveal: the commitment binds the reporter). Every step reads the commitment's status first,
 * so relaying the same payload twice does nothing the second time.
 */
export async function relayPayload(payload: RelayPayload, o: RelayOptions): Promise<{ committed: number; revealed: number }> {
  const chainId = await o.publicClient.getChainId();
  if (chainId !== payload.chainId) throw new ReporterError(`payload is for chain ${payload.chainId}, connected to ${chainId}`);
  const address = payload.meter;
  const status = (commitment: Hex) =>
    o.publicClient.readContract({ address, abi: usageMeterAbi, functionName: "getCommitment", args: [payload.reporter, commitment] });
  const write = async (what: string, request: Parameters<typeof o.publicClient.simulateContract>[0]) => {
    try {
      // "pending": the transaction runs in the next block, which is what the reveal delay counts.
      const { request: req } = await o.publicClient.simulateContract({ ...request, account: o.walletClient.account, blockTag: "pending" } as never);
      const hash = await o.walletClient.writeContract({ ...(req as object), chain: o.walletClient.chain ?? null } as never);
      const receipt = await o.publicClient.waitForTransactionReceipt({ hash });
      if (receipt.status !== "success") throw new TransactionError(`${what} reverted in ${hash}`, undefined);
      o.logger.info({ tx: hash, block: receipt.blockNumber.toString() }, what);
      return receipt.blockNumber;
    } catch (err) {
      if (err instanceof TransactionError) throw err;
      const reason = decodeRevert(err);
      throw new TransactionError(`${what} failed: ${reason ?? (err as Error).message}`, reason);
    }
  };

  let committed = 0;
  for (const item of payload.items) {
    const [s] = await status(item.commitment);
    if (s !== CommitmentStatus.None && s !== CommitmentStatus.Expired) continue;
    if (!item.signature || item.deadline === undefined) {
      throw new ReporterError(`batch ${item.batchId} is not committed and the payload carries no signature for it`);
    }
    await write(`relayed commit of batch ${item.batchId}`, {
      address,
      abi: usageMeterAbi,
      functionName: "commitWithSignature",
      args: [payload.reporter, item.tenantId, item.commitment, BigInt(item.deadline), item.signature],
    });
    committed += 1;
  }

  const minDelay = BigInt(await o.publicClient.readContract({ address, abi: usageMeterAbi, functionName: "MIN_REVEAL_DELAY" }));
  let revealed = 0;
  for (const item of payload.items) {
    const [s, , committedAt] = await status(item.commitment);
    if (s === CommitmentStatus.Revealed) continue;
    if (s !== CommitmentStatus.Committed) throw new ReporterError(`batch ${item.batchId} is not committed (status ${s})`);
    await o.waitForBlock(committedAt + minDelay - 1n);
    await write(`relayed reveal of batch ${item.batchId}`, {
      address,
      abi: usageMeterAbi,
      functionName: "reveal",
      args: [item.tenantId, payload.reporter, item.salt, item.records.map((r) => ({ packed: BigInt(r.packed), ref: r.ref }))],
    });
    revealed += 1;
  }
  return { committed, revealed };
}
