import type pg from "pg";

/** identity_providers (043_identity_providers.sql): a tenant identity provider's configuration. */
export interface IdentityProviderRow {
  id: string;
  issuer: string;
  audience: string;
  jwks_uri: string;
  algorithms: string[];
  token_types: string[];
  tenant_claim: string;
  roles_claim: string;
  created_at: Date;
  updated_at: Date;
}

export interface IdentityProviderFields {
  issuer: string;
  audience: string;
  jwksUri: string;
  algorithms: string[];
  tokenTypes: string[];
  tenantClaim: string;
  rolesClaim: string;
}

type Db = Pick<pg.ClientBase, "query">;

const COLUMNS = "id::text, issuer, audience, jwks_uri, algorithms, token_types, tenant_claim, roles_claim, created_at, updated_at";

export async function findProviderByIssuer(db: Db, issuer: string): Promise<IdentityProviderRow | null> {
  const { rows } = await db.query<IdentityProviderRow>(`SELECT ${COLUMNS} FROM identity_providers WHERE issuer = $1`, [issuer]);
  return rows[0] ?? null;
}

export async function findProvider(db: Db, id: string): Promise<IdentityProviderRow | null> {
  const { rows } = await db.query<IdentityProviderRow>(`SELECT ${COLUMNS} FROM identity_providers WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

export async function listProviders(db: Db): Promise<IdentityProviderRow[]> {
  const { rows } = await db.query<IdentityProviderRow>(`SELECT ${COLUMNS} FROM identity_providers ORDER BY id`);
  return rows;
}

/** Null when the issuer is already registered (one row per issuer). */
export async function insertProvider(db: Db, f: IdentityProviderFields): Promise<IdentityProviderRow | null> {
  const { rows } = await db.query<IdentityProviderRow>(
    `INSERT INTO identity_providers (issuer, audience, jwks_uri, algorithms, token_types, tenant_claim, roles_claim)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (issuer) DO NOTHING RETURNING ${COLUMNS}`,
    [f.issuer, f.audience, f.jwksUri, f.algorithms, f.tokenTypes, f.tenantClaim, f.rolesClaim],
  );
  return rows[0] ?? null;
}

export async function updateProvider(db: Db, id: string, f: IdentityProviderFields): Promise<IdentityProviderRow | null> {
  const { rows } = await db.query<IdentityProviderRow>(
    `UPDATE identity_providers SET issuer = $2, audience = $3, jwks_uri = $4, algorithms = $5, token_types = $6, tenant_claim = $7,
       roles_claim = $8, updated_at = now() WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, f.issuer, f.audience, f.jwksUri, f.algorithms, f.tokenTypes, f.tenantClaim, f.rolesClaim],
  );
  return rows[0] ?? null;
}

/** The provider the tenant of this transaction is bound to (row-level security confines it). */
export async function boundProviderId(db: Db, tenantId: string): Promise<string | null> {
  const { rows } = await db.query<{ provider_id: string }>("SELECT provider_id::text FROM tenant_identity_providers WHERE tenant_id = $1", [tenantId]);
  return rows[0]?.provider_id ?? null;
}

export async function bindProvider(db: Db, tenantId: string, providerId: string): Promise<void> {
  await db.query(
    `INSERT INTO tenant_identity_providers (tenant_id, provider_id) VALUES ($1, $2)
     ON CONFLICT (tenant_id) DO UPDATE SET provider_id = excluded.provider_id, bound_at = now()`,
    [tenantId, providerId],
  );
}

export async function unbindProvider(db: Db, tenantId: string): Promise<boolean> {
  const { rowCount } = await db.query("DELETE FROM tenant_identity_providers WHERE tenant_id = $1", [tenantId]);
  return (rowCount ?? 0) > 0;
}

/** Before a tenant is set: the provider a tenant slug is bound to, null for the default provider. */
export async function providerOfTenantSlug(db: Db, slug: string): Promise<string | null> {
  const { rows } = await db.query<{ id: string | null }>("SELECT meterline_tenant_identity_provider($1)::text AS id", [slug]);
  return rows[0]?.id ?? null;
}
