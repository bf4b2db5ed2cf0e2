/**
 * The platform's record of what its pseudonymous on-chain names stand for (onchain_tenant_names,
 * onchain_meter_names; migration 037). The tenants and meters writers join these tables to label
 * what they index; the operator tools record a mapping through {@link recordNames} when they
 * register a tenant or its meters, before the transaction, so the indexer never sees a name it
 * cannot label. A mapping recorded late still relabels the rows already indexed under the hash.
 */
import type pg from "pg";
import type { Hex } from "viem";
import { hexDigits } from "../../chain/hex";

export interface NameMapping {
  tenant: { slug: string; onchainName: Hex };
  /** The tenant's meters being registered (may be empty). */
  meters: readonly { name: string; onchainName: Hex }[];
}

export interface RecordedNames {
  /** Tenants and meters already indexed under these hashes, now labelled with their names. */
  relabelled: { tenants: number; meters: number };
}

/** Thrown when a hash is already recorded for another name (a key reused across tenants, or a typo in a re-run). */
export class NameMappingConflictError extends Error {
  override readonly name = "NameMappingConflictError";
}

/**
 * Records what `mapping`'s hashes stand for (idempotent: recording the same pairs again changes
 * nothing), and relabels rows the indexer already wrote under the bare hash. Run it in the
 * caller's transaction; the caller must own the tables (the platform's operator role).
 */
export async function recordNames(client: pg.PoolClient | pg.Pool, mapping: NameMapping): Promise<RecordedNames> {
  const { slug, onchainName } = mapping.tenant;
  // One on-chain name per slug: tenants.slug is unique, so a second registration of the slug (under
  // another key, or a plain one from before) would stop the indexer on a unique violation.
  const taken = await client.query<{ h: string }>(
    `SELECT '0x' || encode(onchain_name, 'hex') AS h FROM onchain_tenant_names WHERE slug = $1 AND onchain_name <> decode($2, 'hex')
     UNION ALL
     SELECT coalesce('0x' || encode(onchain_name, 'hex'), 'a plain name') FROM tenants
     WHERE slug = $1 AND onchain_name IS DISTINCT FROM decode($2, 'hex')`,
    [slug, hexDigits(onchainName)],
  );
  if (taken.rows.length > 0) {
    throw new NameMappingConflictError(`tenant "${slug}" is already registered under ${taken.rows[0]!.h}, not ${onchainName} (is this its name key?)`);
  }
  const tenant = await client.query<{ slug: string }>(
    `WITH ins AS (
       INSERT INTO onchain_tenant_names (onchain_name, slug) VALUES (decode($1, 'hex'), $2)
       ON CONFLICT (onchain_name) DO NOTHING RETURNING slug)
     SELECT slug FROM ins UNION ALL SELECT slug FROM onchain_tenant_names WHERE onchain_name = decode($1, 'hex')`,
    [hexDigits(onchainName), slug],
  );
  const recorded = tenant.rows[0]?.slug;
  if (recorded !== undefined && recorded !== slug) {
    throw new NameMappingConflictError(`on-chain tenant name ${onchainName} already stands for tenant "${recorded}", not "${slug}"`);
  }
  const meterHashes = mapping.meters.map((m) => hexDigits(m.onchainName).toLowerCase());
  if (mapping.meters.length > 0) {
    await client.query(
      `INSERT INTO onchain_meter_names (tenant_slug, onchain_name, name)
       SELECT $1, decode(u.h, 'hex'), u.name FROM unnest($2::text[], $3::text[]) AS u(h, name)
       ON CONFLICT (tenant_slug, onchain_name) DO NOTHING`,
      [slug, meterHashes, mapping.meters.map((m) => m.name)],
    );
    const { rows } = await client.query<{ name: string; h: string }>(
      `SELECT name, encode(onchain_name, 'hex') AS h FROM onchain_meter_names
       WHERE tenant_slug = $1 AND onchain_name IN (SELECT decode(h, 'hex') FROM unnest($2::text[]) AS h)`,
      [slug, meterHashes],
    );
    for (const [i, m] of mapping.meters.entries()) {
      const found = rows.find((r) => r.h === meterHashes[i]);
      if (found && found.name !== m.name) {
        throw new NameMappingConflictError(`on-chain meter name ${m.onchainName} of tenant "${slug}" already stands for meter "${found.name}", not "${m.name}"`);
      }
    }
  }
  // Rows indexed before the mapping existed carry the hash as text (bytes32ToText of a hash).
  const tenants = await client.query(
    `UPDATE tenants SET slug = $2 WHERE onchain_name = decode($1, 'hex') AND slug = '0x' || $1`,
    [hexDigits(onchainName).toLowerCase(), slug],
  );
  const meters =
    mapping.meters.length === 0
      ? { rowCount: 0 }
      : await client.query(
          `UPDATE meters m SET name = u.name
           FROM tenants t, unnest($2::text[], $3::text[]) AS u(h, name)
           WHERE t.id = m.tenant_id AND t.slug = $1 AND m.onchain_name = decode(u.h, 'hex') AND m.name = '0x' || u.h`,
          [slug, meterHashes, mapping.meters.map((m) => m.name)],
        );
  return { relabelled: { tenants: tenants.rowCount ?? 0, meters: meters.rowCount ?? 0 } };
}
