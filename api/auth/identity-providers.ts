import type { TenantDb } from "../tenancy/tenant-transaction";
import { findProviderByIssuer, providerOfTenantSlug } from "../read/identity-providers";
import { parseClaimPath } from "./claims";

/** A tenant identity provider as token verification uses it. */
export interface TenantIdentityProvider {
  id: string;
  issuer: string;
  audience: string;
  jwksUri: string;
  algorithms: string[];
  tokenTypes: string[];
  tenantClaim: string[];
  rolesClaim: string[];
  /** Changes when the configuration does: key sets are cached per version. */
  version: string;
}

/**
 * The tenant identity providers and bindings (043_identity_providers.sql), read as the API's role
 * before any tenant is known. Answers are cached for `ttlMs` (unknown issuers too, so tokens
 * naming random issuers cost one query each per interval at most): a change made on another
 * replica takes effect there within that time; `invalidate` applies this replica's own changes at
 * once.
 */
export interface IdentityProviderDirectory {
  byIssuer(issuer: string): Promise<TenantIdentityProvider | null>;
  /** The provider id a tenant slug is bound to; null: the default provider (OIDC_ISSUER). */
  boundTo(tenantSlug: string): Promise<string | null>;
  invalidate(): void;
  /** Called on invalidate (the verifier forgets tokens it verified under the old configuration). */
  onInvalidate(listener: () => void): void;
}

const MAX_CACHED = 10_000;

/**
 * The directory could not be read (the database): an internal failure, answered 500 like any
 * other, never a 401 that would tell a client its token is bad.
 */
export class IdentityDirectoryError extends Error {
  override name = "IdentityDirectoryError";
}

const reading = async <T>(what: string, load: () => Promise<T>): Promise<T> => {
  try {
    return await load();
  } catch (err) {
    throw new IdentityDirectoryError(`cannot read ${what}`, { cause: err });
  }
};

export function createIdentityProviderDirectory(db: Pick<TenantDb, "runWithoutTenant">, options: { ttlMs?: number } = {}): IdentityProviderDirectory {
  const ttlMs = options.ttlMs ?? 5000;
  const issuers = new Map<string, { value: TenantIdentityProvider | null; until: number }>();
  const bindings = new Map<string, { value: string | null; until: number }>();
  const listeners: (() => void)[] = [];

  async function cached<T>(map: Map<string, { value: T; until: number }>, key: string, load: () => Promise<T>): Promise<T> {
    const hit = map.get(key);
    if (hit && hit.until > Date.now()) return hit.value;
    const value = await load();
    if (map.size >= MAX_CACHED) map.delete(map.keys().next().value!);
    map.set(key, { value, until: Date.now() + ttlMs });
    return value;
  }

  return {
    byIssuer: (issuer) =>
      cached(issuers, issuer, async () => {
        const row = await reading("identity providers", () => db.runWithoutTenant((c) => findProviderByIssuer(c, issuer)));
        if (!row) return null;
        const tenantClaim = parseClaimPath(row.tenant_claim);
        const rolesClaim = parseClaimPath(row.roles_claim);
        // Validated when written; a row that does not parse serves no token rather than a wrong one.
        if (!tenantClaim || !rolesClaim) return null;
        return {
          id: row.id,
          issuer: row.issuer,
          audience: row.audience,
          jwksUri: row.jwks_uri,
          algorithms: row.algorithms,
          tokenTypes: row.token_types,
          tenantClaim,
          rolesClaim,
          version: `${row.id}:${row.updated_at.toISOString()}:${row.jwks_uri}`,
        };
      }),
    boundTo: (slug) => cached(bindings, slug, () => reading("tenant identity provider bindings", () => db.runWithoutTenant((c) => providerOfTenantSlug(c, slug)))),
    invalidate() {
      issuers.clear();
      bindings.clear();
      for (const l of listeners) l();
    },
    onInvalidate(listener) {
      listeners.push(listener);
    },
  };
}
