import type { Address, Chain, Hex, PublicClient, Transport } from "viem";
import { DeploymentFileError, findDeployment } from "../chain/deployment";
import { finalizedBlockNumber } from "./finality";
import type { Journal } from "./journal";
import { scanRevealedRefs } from "./revealed-refs";

interface TenantKeys {
  refs: Set<Hex>;
  /** Last block whose logs are in `refs` and in the journal's cache (finalized when scanned). */
  cachedTo: bigint;
}

/** Segments in a tenant's cache file beyond which the next load rewrites it as one. */
const COMPACT_AFTER = 256;

/**
 * The idempotency keys (refs) already submitted for each tenant, by any of its reporters, as
 * the chain says: `UsageRevealed` logs from the deployment's block on. Finalized blocks are
 * scanned once and cached in the journal (append-only, `keys/<tenant>.jsonl`), so a rerun
 * (or a reporter whose journal was lost, after one full scan) reads only new blocks. Blocks
 * after the finalized one are scanned every time and never cached: a reorg may still drop them.
 */
export class SubmittedKeys {
  private readonly tenants = new Map<number, TenantKeys>();

  constructor(
    private readonly o: {
      publicClient: PublicClient<Transport, Chain | undefined>;
      meter: Address;
      journal: Journal;
      /** First block that can hold the contract's logs (its deployment block). */
      fromBlock: bigint;
    },
  ) {}

  /** Every non-zero ref revealed for `tenantId` up to the current head (lower-case). */
  async revealed(tenantId: number): Promise<ReadonlySet<Hex>> {
    const keys = this.tenants.get(tenantId) ?? (await this.load(tenantId));
    this.tenants.set(tenantId, keys);
    const { publicClient: client, meter, journal } = this.o;
    const head = await client.getBlockNumber({ cacheTime: 0 });
    const finalized = await finalizedBlockNumber(client);
    const cacheTo = finalized < head ? finalized : head;
    if (cacheTo > keys.cachedTo) {
      const refs = await scanRevealedRefs(client, meter, tenantId, keys.cachedTo + 1n, cacheTo);
      await journal.appendKeyScan(tenantId, { from: (keys.cachedTo + 1n).toString(), to: cacheTo.toString(), refs });
      for (const ref of refs) keys.refs.add(ref);
      keys.cachedTo = cacheTo;
    }
    if (head <= keys.cachedTo) return keys.refs;
    const tail = await scanRevealedRefs(client, meter, tenantId, keys.cachedTo + 1n, head);
    return tail.length === 0 ? keys.refs : new Set([...keys.refs, ...tail]);
  }

  private async load(tenantId: number): Promise<TenantKeys> {
    const { journal, fromBlock } = this.o;
    let segments = await journal.keyScan(tenantId);
    // A cache that starts after the configured first block misses logs: start over.
    if (segments.length > 0 && BigInt(segments[0]!.from) > fromBlock) {
      await journal.resetKeyScan(tenantId);
      segments = [];
    }
    const refs = new Set<Hex>(segments.flatMap((s) => s.refs));
    const cachedTo = segments.length > 0 ? BigInt(segments.at(-1)!.to) : fromBlock - 1n;
    if (segments.length > COMPACT_AFTER) {
      await journal.rewriteKeyScan(tenantId, [{ from: segments[0]!.from, to: cachedTo.toString(), refs: [...refs] }]);
    }
    return { refs, cachedTo };
  }
}

/**
 * Where a scan of `meter`'s logs may start: the deploy block from deployments/<chainId>.json
 * when that file names this contract, else block 0 (slower once, never wrong: the scan is
 * cached). A broken deployment file is not this scan's business, so it falls back to 0 too.
 */
export function scanStartBlock(chainId: number, meter: Address): bigint {
  try {
    const deployment = findDeployment(chainId);
    return deployment && deployment.address.toLowerCase() === meter.toLowerCase() ? BigInt(deployment.deployBlock) : 0n;
  } catch (err) {
    if (err instanceof DeploymentFileError) return 0n;
    throw err;
  }
}
