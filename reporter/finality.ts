import type { Chain, PublicClient, Transport } from "viem";

/**
 * Depth assumed final on nodes that do not know the `finalized` tag (pre-merge clients, some
 * development chains). Deeper than any reorg seen on a live EVM chain in years.
 */
export const FALLBACK_CONFIRMATIONS = 64n;

/**
 * The newest block the chain will not reorganise. Two reporter decisions depend on it, because
 * a reorg would turn them into double counting or lost usage: the cached scan of submitted refs
 * (a ref cached from an orphaned block would skip usage that never landed) and renumbering a
 * batch whose sequences were passed (an orphaned reveal would bring the old batch back to life
 * beside its renumbered copy).
 */
export async function finalizedBlockNumber(client: PublicClient<Transport, Chain | undefined>): Promise<bigint> {
  try {
    const block = await client.getBlock({ blockTag: "finalized" });
    if (block.number !== null) return block.number;
  } catch {
    // The node does not support the tag; fall through to a fixed depth.
  }
  const head = await client.getBlockNumber({ cacheTime: 0 });
  return head > FALLBACK_CONFIRMATIONS ? head - FALLBACK_CONFIRMATIONS : 0n;
}
