import type { RequestContext } from "../context";
import { notFound } from "../errors";
import { fromGlobalId, toGlobalId } from "./ids";
import { afterKey, connection, pageSize } from "./pagination";
import { hex, parseHex } from "./scalars";

interface OnchainRow {
  chain_id: string;
  tx_hash: Buffer;
  log_index: number;
  block_number: string;
  block_hash: Buffer | null;
  commitment?: Buffer | null;
}

export const onchainRef = (r: OnchainRow) => ({
  chainId: r.chain_id,
  txHash: hex(r.tx_hash),
  logIndex: r.log_index,
  blockNumber: r.block_number,
  blockHash: hex(r.block_hash),
  commitment: hex(r.commitment ?? null),
});

/** The meter_id of a Meter global id of the current tenant, or null (unknown and foreign alike). */
export function meterIdOf(id: string, tenantId: string | null): number | null {
  const key = fromGlobalId(id, "Meter", 2);
  if (!key || tenantId === null || key[0] !== tenantId || !/^\d{1,9}$/.test(key[1]!)) return null;
  return Number(key[1]);
}

/** Like meterIdOf, for arguments where an unknown meter is an error. */
export function requireMeterId(id: string, tenantId: string | null): number {
  const meterId = meterIdOf(id, tenantId);
  if (meterId === null) throw notFound();
  return meterId;
}

const TENANT = `SELECT id, slug, time_zone, chain_id, onchain_id FROM tenants WHERE id = $1`;

interface TenantRow {
  id: string;
  slug: string;
  time_zone: string;
  chain_id: string;
  onchain_id: number;
}

const tenantNode = (r: TenantRow) => ({
  id: toGlobalId("Tenant", r.id),
  slug: r.slug,
  timeZone: r.time_zone,
  chainId: r.chain_id,
  onchainId: r.onchain_id,
});

async function tenant(ctx: RequestContext) {
  return ctx.db.run(ctx.principal, async (c, tenantId) => {
    if (tenantId === null) return null;
    const { rows } = await c.query<TenantRow>(TENANT, [tenantId]);
    return rows[0] ? tenantNode(rows[0]) : null;
  });
}

const METERS = `SELECT m.tenant_id, m.meter_id, m.name, m.chain_id, m.tx_hash, m.log_index, m.block_number, m.block_hash,
    c.aggregation, c.unit, c.display_name
  FROM meters m LEFT JOIN meter_configs c ON c.tenant_id = m.tenant_id AND c.meter_id = m.meter_id
  WHERE m.tenant_id = $1`;

interface MeterRow extends OnchainRow {
  tenant_id: string;
  meter_id: number;
  name: string;
  aggregation: string | null;
  unit: string | null;
  display_name: string | null;
}

export const meterNode = (r: MeterRow) => ({
  id: toGlobalId("Meter", r.tenant_id, r.meter_id),
  meterId: r.meter_id,
  name: r.name,
  config: r.aggregation ? { aggregation: r.aggregation, unit: r.unit, displayName: r.display_name } : null,
  onchain: onchainRef(r),
});

export async function loadMeter(c: import("pg").PoolClient, tenantId: string, meterId: number) {
  const { rows } = await c.query<MeterRow>(`${METERS} AND m.meter_id = $2`, [tenantId, meterId]);
  return rows[0] ? meterNode(rows[0]) : null;
}

interface CommitmentRow extends OnchainRow {
  reporter: Buffer;
  commitment: Buffer;
  relayer: Buffer;
  status: string;
  block_time: Date;
  resolved_tx_hash: Buffer | null;
  resolved_log_index: number | null;
  resolved_block_number: string | null;
  resolved_block_hash: Buffer | null;
}

const COMMITMENT_STATUS: Record<string, string> = { COMMITTED: "committed", REVEALED: "revealed", EXPIRED: "expired" };

const commitmentNode = (r: CommitmentRow) => ({
  id: toGlobalId("Commitment", r.chain_id, hex(r.tx_hash)!.slice(2), r.log_index),
  reporter: hex(r.reporter),
  commitment: hex(r.commitment),
  relayer: hex(r.relayer),
  status: r.status.toUpperCase(),
  committedAt: r.block_time,
  committed: onchainRef({ ...r, commitment: r.commitment }),
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

export const chainResolvers = {
  Query: {
    viewer: (_: unknown, __: unknown, ctx: RequestContext) => ({
      subject: ctx.principal.subject,
      roles: [...ctx.principal.roles].map((r) => r.toUpperCase()),
      platform: ctx.principal.platform,
      tenant: () => tenant(ctx),
    }),
    tenant: (_: unknown, __: unknown, ctx: RequestContext) => tenant(ctx),
    meters: (_: unknown, __: unknown, ctx: RequestContext) =>
      ctx.db.run(ctx.principal, async (c, tenantId) => {
        if (tenantId === null) return [];
        const { rows } = await c.query<MeterRow>(`${METERS} ORDER BY m.meter_id`, [tenantId]);
        return rows.map(meterNode);
      }),
    meter: (_: unknown, args: { id: string }, ctx: RequestContext) =>
      ctx.db.run(ctx.principal, async (c, tenantId) => {
        const meterId = meterIdOf(args.id, tenantId);
        return meterId === null ? null : loadMeter(c, tenantId!, meterId);
      }),
    commitments: (
      _: unknown,
      args: { status?: string | null; first?: number | null; after?: string | null },
      ctx: RequestContext,
    ) => {
      const first = pageSize(args.first);
      const after = afterKey(args.after, 4);
      return ctx.db.run(ctx.principal, async (c, tenantId) => {
        const where = ["tenant_id = $1"];
        const params: unknown[] = [tenantId];
        if (args.status) {
          params.push(COMMITMENT_STATUS[args.status]);
          where.push(`status = $${params.length}`);
        }
        const countWhere = [...where];
        const countParams = [...params];
        if (after) {
          if (!/^\d+$/.test(after[0]!) || !/^\d+$/.test(after[1]!) || !/^\d+$/.test(after[3]!)) return emptyConnection();
          params.push(after[0], after[1], parseHex(`0x${after[2]}`, 32, "cursor"), after[3]);
          const n = params.length;
          where.push(`(block_number, chain_id, tx_hash, log_index) < ($${n - 3}, $${n - 2}, $${n - 1}, $${n})`);
        }
        params.push(first + 1);
        const { rows } = await c.query<CommitmentRow>(
          `SELECT * FROM commitments WHERE ${where.join(" AND ")}
           ORDER BY block_number DESC, chain_id DESC, tx_hash DESC, log_index DESC LIMIT $${params.length}`,
          params,
        );
        return connection(
          rows,
          first,
          commitmentNode,
          (r) => [r.block_number, r.chain_id, r.tx_hash.toString("hex"), r.log_index],
          () =>
            ctx.db.run(ctx.principal, async (c2) => {
              const res = await c2.query<{ n: number }>(`SELECT count(*)::int AS n FROM commitments WHERE ${countWhere.join(" AND ")}`, countParams);
              return res.rows[0]!.n;
            }),
        );
      });
    },
  },
};

export function emptyConnection() {
  return { edges: [], pageInfo: { hasNextPage: false, endCursor: null }, totalCount: async () => 0 };
}
