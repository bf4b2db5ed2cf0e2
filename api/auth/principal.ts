import type { Role } from "./roles";

/** A verified caller. `tenant` is the tenant slug every query of the request is confined to. */
export interface Principal {
  subject: string;
  tenant: string;
  /** The tenant named in the token (differs from `tenant` only for a platform request). */
  tokenTenant: string;
  /** Tenant roles, or (platform) exactly the platform roles the token grants: never a mix. */
  roles: ReadonlySet<Role>;
  /** True when a platform operator acts on a tenant it named explicitly (audit-logged). */
  platform: boolean;
  /** Token expiry, epoch ms: subscriptions close then. */
  expiresAt: number;
}
