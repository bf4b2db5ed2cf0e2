/**
 * Who may do what. A request carries either tenant roles (a tenant's own user, on the token's
 * tenant) or platform roles (a platform operator, on the one tenant the request names in the
 * Meterline-Tenant header), never both: a platform operator gets exactly the platform roles its
 * token grants and no tenant role, and a tenant user never gets a platform role.
 *
 * The split follows who sets the price and who checks it. The billed party does not configure its
 * own billing: meters' aggregation, plans, prices, subscriptions and limits are `platform:admin`'s,
 * corrections (credit notes, void and reissue, exclusions) `platform:billing`'s. The tenant keeps
 * its integrations (webhooks: `operator`, `admin`) and its own alert thresholds (`admin`). The audit
 * log is read by auditors only, tenant or platform, so the people it records are not the people
 * who read it; in particular a platform admin or billing operator cannot read its own trail.
 */

export const TENANT_ROLES = ["viewer", "operator", "admin", "auditor"] as const;
export type TenantRole = (typeof TENANT_ROLES)[number];

export const PLATFORM_ROLES = ["platform:viewer", "platform:admin", "platform:billing", "platform:auditor"] as const;
export type PlatformRole = (typeof PLATFORM_ROLES)[number];

export type Role = TenantRole | PlatformRole;

/** The schema's role requirements: the @auth directive's Role enum (also how Viewer.roles names roles). */
export type Requirement =
  | "VIEWER"
  | "OPERATOR"
  | "ADMIN"
  | "AUDITOR"
  | "PLATFORM_VIEWER"
  | "PLATFORM_ADMIN"
  | "PLATFORM_BILLING"
  | "PLATFORM_AUDITOR";

const TENANT_ROLE_SET: ReadonlySet<string> = new Set(TENANT_ROLES);

export function tenantRoles(claimed: readonly string[]): Set<TenantRole> {
  return new Set(claimed.filter((r): r is TenantRole => TENANT_ROLE_SET.has(r)));
}

/**
 * The platform roles among the claimed ones, as the IdP names them: `prefix` + viewer, admin,
 * billing or auditor (PLATFORM_ROLE_PREFIX, default `platform:`). Anything else under the prefix
 * grants nothing.
 */
export function platformRoles(claimed: readonly string[], prefix: string): Set<PlatformRole> {
  const roles = new Set<PlatformRole>();
  for (const r of claimed) {
    if (!r.startsWith(prefix)) continue;
    const role = `platform:${r.slice(prefix.length)}`;
    if ((PLATFORM_ROLES as readonly string[]).includes(role)) roles.add(role as PlatformRole);
  }
  return roles;
}

/**
 * Which roles satisfy each requirement. Reading a tenant's data (VIEWER) is every role's: the
 * tenant's own, and every platform role (platform:viewer is implied by the other three). Nothing
 * else is implied: platform:admin does not issue credit notes, platform:billing does not change
 * prices, neither reads the audit log, and no platform role manages the tenant's webhooks or sets
 * its alert thresholds.
 */
const SATISFIES: Record<Requirement, readonly Role[]> = {
  VIEWER: [...TENANT_ROLES, ...PLATFORM_ROLES],
  OPERATOR: ["operator", "admin"],
  ADMIN: ["admin"],
  AUDITOR: ["auditor", "platform:auditor"],
  PLATFORM_VIEWER: PLATFORM_ROLES,
  PLATFORM_ADMIN: ["platform:admin"],
  PLATFORM_BILLING: ["platform:billing"],
  PLATFORM_AUDITOR: ["platform:auditor"],
};

export function satisfies(roles: ReadonlySet<Role>, requirement: Requirement): boolean {
  return SATISFIES[requirement].some((r) => roles.has(r));
}

/** A role as the Role enum names it: viewer → VIEWER, platform:billing → PLATFORM_BILLING. */
export function roleName(role: Role): Requirement {
  return role.replace(":", "_").toUpperCase() as Requirement;
}
