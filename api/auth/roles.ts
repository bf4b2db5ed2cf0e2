/** The schema's role requirements (the @auth directive's Role enum). */
export type Requirement = "VIEWER" | "OPERATOR" | "ADMIN" | "AUDITOR";

export type TenantRole = "viewer" | "operator" | "admin" | "auditor";

const TENANT_ROLES: ReadonlySet<string> = new Set(["viewer", "operator", "admin", "auditor"]);

export function tenantRoles(claimed: readonly string[]): Set<TenantRole> {
  return new Set(claimed.filter((r): r is TenantRole => TENANT_ROLES.has(r)));
}

/**
 * viewer < operator < admin for the tenant's data and configuration; auditor is viewer plus the
 * audit log, read-only. The audit log is the auditor's alone so that the people it records
 * (operators, admins) are not the people who read it.
 */
const SATISFIES: Record<Requirement, readonly TenantRole[]> = {
  VIEWER: ["viewer", "operator", "admin", "auditor"],
  OPERATOR: ["operator", "admin"],
  ADMIN: ["admin"],
  AUDITOR: ["auditor"],
};

export function satisfies(roles: ReadonlySet<TenantRole>, requirement: Requirement): boolean {
  return SATISFIES[requirement].some((r) => roles.has(r));
}
