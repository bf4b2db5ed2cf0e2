import type { RequestContext } from "../context";
import { countCommitments, pageCommitments, type CommitmentRow, type CommitmentStatus } from "../read/commitments";
import { toHex } from "../../chain/hex";
import { hexArg } from "./args";
import { hashKey, toGlobalId } from "./ids";
import { onchainRef } from "./nodes";
import { afterKey, connection, emptyConnection, pageSize } from "./pagination";

const commitmentNode = (r: CommitmentRow) => ({
  id: toGlobalId("Commitment", r.chain_id, hashKey(r.tx_hash), r.log_index),
  reporter: toHex(r.reporter),
  commitment: toHex(r.commitment),
  relayer: toHex(r.relayer),
  status: r.status.toUpperCase(),
  committedAt: r.block_time,
  committed: onchainRef(r),
  resolved: r.resolved_tx_hash
    ? onchainRef({
        chain_id: r.chain_id,
        tx_hash: r.resolved_tx_hash,
        log_index: r.resolved_log_index!,
        block_number: r.resolved_block_number!,
        block_hash: r.resolved_block_hash,
        commitment: r.commitment,
      })
    : null,
});

export const commitmentResolvers = {
  Query: {
    commitments: (
      _: unknown,
      args: { status?: "COMMITTED" | "REVEALED" | "EXPIRED" | null; first?: number | null; after?: string | null },
      ctx: RequestContext,
    ) => {
      const first = pageSize(args.first);
      const after = afterKey(args.after, 4);
      const status = args.status ? (args.status.toLowerCase() as CommitmentStatus) : null;
      return ctx.db.run(ctx.principal, async (c, tenantId) => {
        let key = null;
        if (after) {
          const [blockNumber, chainId, tx, logIndex] = after as [string, string, string, string];
          if (![blockNumber, chainId, logIndex].every((v) => /^\d+$/.test(v))) return emptyConnection();
          key = { blockNumber, chainId, txHash: hexArg(`0x${tx}`, 32, "cursor"), logIndex };
        }
        const rows = await pageCommitments(c, tenantId, status, key, first + 1);
        return connection(
          rows,
          first,
          commitmentNode,
          (r) => [r.block_number, r.chain_id, hashKey(r.tx_hash), r.log_index],
          () => ctx.db.run(ctx.principal, (c2, t) => countCommitments(c2, t, status)),
        );
      });
    },
  },
};
