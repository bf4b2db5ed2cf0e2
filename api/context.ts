import type { Logger } from "pino";
import type { Principal } from "./auth/verify-token";
import type { TenantDb } from "./db/tenant-transaction";
import type { NotificationHub } from "./notifications";

/** Per-request GraphQL context, built by the HTTP layer after the token is verified. */
export interface RequestContext {
  principal: Principal;
  db: TenantDb;
  notifications: NotificationHub;
  /** The webhook dispatcher's encryption key; webhook mutations are refused without it. */
  webhookKey: Buffer | undefined;
  requestId: string;
  ip: string;
  userAgent: string;
  logger: Logger;
}
