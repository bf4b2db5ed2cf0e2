/** Reads a claim by path (["realm_access", "roles"]); undefined when any segment is missing. */
export function claimAt(payload: Record<string, unknown>, path: readonly string[]): unknown {
  let value: unknown = payload;
  for (const segment of path) {
    if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(value, segment)) return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

/**
 * The tenant is a non-empty string claim; Keycloak's `organization` claim is a list (or an object
 * keyed by organization alias) and is accepted when it names exactly one organization.
 */
export function tenantFromClaim(value: unknown): string | undefined {
  if (typeof value === "string") return value.trim() !== "" && value.length <= 200 ? value : undefined;
  if (Array.isArray(value)) return value.length === 1 ? tenantFromClaim(value[0]) : undefined;
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    return keys.length === 1 ? tenantFromClaim(keys[0]) : undefined;
  }
  return undefined;
}

/** Roles are a string array, or a space-separated string (some IdPs flatten them like scope). */
export function rolesFromClaim(value: unknown): string[] {
  if (typeof value === "string") return value.split(" ").filter((r) => r !== "");
  if (Array.isArray(value)) return value.filter((r): r is string => typeof r === "string");
  return [];
}

/**
 * A claim path as configured: dot-separated segments (`realm_access.roles`), or one whole claim
 * name when it is URL-like (Auth0's namespaced `https://example.com/roles` has dots that are not
 * separators). Undefined when a segment is empty.
 */
export function parseClaimPath(s: string): string[] | undefined {
  const segments = /^https?:\/\//.test(s) ? [s] : s.split(".");
  return s !== "" && segments.every((p) => p !== "") ? segments : undefined;
}
