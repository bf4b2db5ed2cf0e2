import { isAddress, isHex, type Account, type Chain, type Hex, type PublicClient, type Transport, type WalletClient } from "viem";
import { z } from "zod";
import { usageMeterAbi } from "../chain/abi.generated";
import { decodeRecordWord } from "../chain/record";
import { decodeRevert } from "../chain/revert";
import { CommitmentStatus, type Logger, type RelayItem, type RelayPayload } from "./client";
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

export interface RelayResult {
  committed: number;
  revealed: number;
  /**
   * Items whose reveal can no longer land because a later batch of the same reporter was revealed
   * first (by another relayer, or an earlier out-of-order run). Nothing is lost: the reporter
   * renumbers them on its next run and they come back in its next payload.
   */
  stale: number;
}

const firstSequence = (item: RelayItem): bigint => decodeRecordWord(BigInt(item.records[0]!.packed)).sequence;

/**
 * Submits a reporter's signed commits with `commitWithSignature`, in payload order (the
 * signatures carry consecutive nonces), then reveals them (anyone may reveal: the commitment
 * binds the reporter), lowest sequence first per tenant, the one order in which every batch can
 * land. Every step reads the chain first, so relaying the same payload twice does nothing the
 * second time, and an item passed by a reveal made elsewhere is counted as stale, not an error.
 */
export async function relayPayload(payload: RelayPayload, o: RelayOptions): Promise<RelayResult> {
  const chainId = await o.publicClient.getChainId();
  if (chainId !== payload.chainId) throw new ReporterError(`payload is for chain ${payload.chainId}, connected to ${chainId}`);
  const address = payload.meter;
  const status = (commitment: Hex) =>
    o.publicClient.readContract({ address, abi: usageMeterAbi, functionName: "getCommitment", args: [payload.reporter, commitment] });
  const mark = async (tenantId: number) =>
    (await o.publicClient.readContract({ address, abi: usageMeterAbi, functionName: "getReporter", args: [tenantId, payload.reporter] }))[1];
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
      throw new TransactionError(`${what} failed: ${reason ?? (err as Error).message}`, reason, { cause: err });
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
  const inOrder = [...payload.items].sort((a, b) => a.tenantId - b.tenantId || (firstSequence(a) < firstSequence(b) ? -1 : 1));
  let revealed = 0;
  let stale = 0;
  for (const item of inOrder) {
    const [s, , committedAt] = await status(item.commitment);
    if (s === CommitmentStatus.Revealed) continue;
    if ((await mark(item.tenantId)) >= firstSequence(item)) {
      stale += 1;
      o.logger.warn({ batch: item.batchId }, "batch passed by a later reveal; the reporter renumbers it on its next run");
      continue;
    }
    if (s !== CommitmentStatus.Committed) throw new ReporterError(`batch ${item.batchId} is not committed (status ${s})`);
    await o.waitForBlock(committedAt + minDelay - 1n);
    try {
      await write(`relayed reveal of batch ${item.batchId}`, {
        address,
        abi: usageMeterAbi,
        functionName: "reveal",
        args: [item.tenantId, payload.reporter, item.salt, item.records.map((r) => ({ packed: BigInt(r.packed), ref: r.ref }))],
      });
    } catch (err) {
      // Another relayer's reveal of a later batch landed between the check above and this one.
      if (!(err instanceof TransactionError && err.sequenceNotIncreasing)) throw err;
      stale += 1;
      o.logger.warn({ batch: item.batchId }, "batch passed by a later reveal; the reporter renumbers it on its next run");
      continue;
    }
    revealed += 1;
  }
  return { committed, revealed, stale };
}
