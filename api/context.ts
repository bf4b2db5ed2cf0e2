import type { DestinationPolicy } from "../webhooks/destinations";
import type { KeyRing } from "../webhooks/secrets";
import type { Logger } from "pino";
import type { IdentityProviderDirectory } from "./auth/identity-providers";
import type { Principal } from "./auth/principal";
import type { NotificationHub } from "./read/notifications";
import type { AuditActor } from "../db/audit-log";
import type { TenantDb } from "./tenancy/tenant-transaction";

/**
 * What every resolver gets: built per request by http/ once the token is verified, so a
 * resolver never runs without a principal.
 */
export interface RequestContext {
  principal: Principal;
  db: TenantDb;
  notifications: NotificationHub;
  /** The webhook dispatcher's encryption key; webhook mutations are refused without it. */
  webhookKey: KeyRing | undefined;
  webhookDestinations: DestinationPolicy;
  /** Confirmations billing waits for; a reissued invoice is finalized with them. */
  confirmations: number;
  /** The principal and the request, as audit rows record them. */
  actor: AuditActor;
  logger: Logger;
  /** Tenant identity providers: the directory token verification reads, and the rules for new ones. */
  identityProviders: { directory: IdentityProviderDirectory; defaultIssuer: string; httpsOnly: boolean };
}
