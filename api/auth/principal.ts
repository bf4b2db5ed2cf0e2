import type { TenantRole } from "./roles";

/** A verified caller. `tenant` is the tenant slug every query of the request is confined to. */
export interface Principal {
  subject: string;
  tenant: string;
  /** The tenant named in the token (differs from `tenant` only for a platform request). */
  tokenTenant: string;
  roles: ReadonlySet<TenantRole>;
  /** True when a platform operator acts on a tenant it named explicitly (audit-logged). */
  platform: boolean;
  /** Token expiry, epoch ms: subscriptions close then. */
  expiresAt: number;
}
