import { InMemoryWebStorage, UserManager, WebStorageStateStore, type User } from "oidc-client-ts";
import type { DashboardConfig } from "./config";

/**
 * OIDC authorization code + PKCE with oidc-client-ts. Tokens live in memory only
 * (InMemoryWebStorage): a reload signs in again, which the IdP's own session makes one redirect.
 * Only the short-lived PKCE verifier and state survive the redirect, in sessionStorage, and the
 * library removes them once the code is redeemed.
 */
export function createUserManager(config: DashboardConfig): UserManager {
  const here = `${window.location.origin}/`;
  return new UserManager({
    authority: config.oidc.issuer,
    client_id: config.oidc.clientId,
    redirect_uri: here,
    post_logout_redirect_uri: here,
    response_type: "code",
    scope: config.oidc.scope,
    userStore: new WebStorageStateStore({ store: new InMemoryWebStorage() }),
    stateStore: new WebStorageStateStore({ store: window.sessionStorage }),
    // The API accepts access tokens for its audience only (RFC 8707 resource indicator).
    extraQueryParams: { resource: config.oidc.audience },
    extraTokenParams: { resource: config.oidc.audience },
    automaticSilentRenew: false,
    monitorSession: false,
    loadUserInfo: false,
  });
}

/** True when the address bar holds an authorization response for us. */
export function isCallback(): boolean {
  const q = new URLSearchParams(window.location.search);
  return (q.has("code") || q.has("error")) && q.has("state");
}

/** Finishes the redirect: tokens into memory, the address bar back to the page the user wanted. */
export async function completeSignIn(manager: UserManager): Promise<User> {
  const user = await manager.signinRedirectCallback();
  const target = typeof user.state === "string" && user.state.startsWith("#") ? user.state : "#/usage";
  window.history.replaceState(null, "", `/${target}`);
  return user;
}

export interface Claims {
  subject: string;
  tenant: string;
  roles: string[];
  expiresAt: number;
}

/** The access token's claims, for the UI only (the API verifies the token; this trusts nothing). */
export function claimsOf(user: User): Claims {
  const part = user.access_token.split(".")[1] ?? "";
  let payload: Record<string, unknown> = {};
  try {
    payload = JSON.parse(atob(part.replace(/-/g, "+").replace(/_/g, "/"))) as Record<string, unknown>;
  } catch {
    // An opaque token: the API still decides; the UI shows fewer hints.
  }
  return {
    subject: String(payload.sub ?? user.profile.sub),
    tenant: typeof payload.tenant_id === "string" ? payload.tenant_id : "",
    roles: Array.isArray(payload.roles) ? payload.roles.map(String) : [],
    expiresAt: (user.expires_at ?? 0) * 1000,
  };
}
