import { createContext, useContext } from "react";
import type { Claims } from "./auth";
import type { DashboardConfig } from "./config";

export interface Session {
  config: DashboardConfig;
  claims: Claims;
  /** Platform roles held by the token (without the prefix): viewer, admin, billing, auditor. */
  platformRoles: string[];
  /** Tenant roles held by the token: viewer, operator, admin, auditor. */
  tenantRoles: string[];
  /** The tenant a platform operator acts on (Meterline-Tenant header); undefined for tenant users. */
  actingTenant: string | undefined;
  setActingTenant(tenant: string | undefined): void;
  signOut(): void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error("useSession outside the signed-in app");
  return s;
}

export function can(session: Session, duty: "operate" | "audit" | "platform"): boolean {
  if (duty === "platform") return session.platformRoles.length > 0;
  if (duty === "operate") return session.tenantRoles.includes("operator") || session.tenantRoles.includes("admin");
  return session.tenantRoles.includes("auditor") || session.platformRoles.includes("auditor");
}
