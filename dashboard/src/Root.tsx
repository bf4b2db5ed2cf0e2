import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { User, UserManager } from "oidc-client-ts";
import { Provider } from "urql";
import { App } from "./App";
import { claimsOf, completeSignIn, createUserManager, isCallback } from "./auth";
import { loadConfig, type DashboardConfig } from "./config";
import { createGraphqlClient } from "./graphql";
import { SessionContext, type Session } from "./session";
import { ErrorBox, Loading } from "./components/State";

type Phase =
  | { kind: "starting" }
  | { kind: "failed"; message: string }
  | { kind: "signed-out"; reason?: "expired" | "signed-out" | "error"; message?: string }
  | { kind: "signed-in"; user: User };

/** Settings, then the sign-in state machine; the app proper renders only with a user in memory. */
export function Root() {
  const [config, setConfig] = useState<DashboardConfig>();
  const [phase, setPhase] = useState<Phase>({ kind: "starting" });
  const manager = useRef<UserManager>(undefined);
  const started = useRef(false);

  useEffect(() => {
    if (started.current) return;
    started.current = true;
    (async () => {
      const c = await loadConfig();
      setConfig(c);
      const m = createUserManager(c);
      manager.current = m;
      m.events.addAccessTokenExpired(() => {
        void m.removeUser();
        setPhase({ kind: "signed-out", reason: "expired" });
      });
      if (isCallback()) {
        try {
          setPhase({ kind: "signed-in", user: await completeSignIn(m) });
        } catch (err) {
          window.history.replaceState(null, "", "/");
          setPhase({ kind: "signed-out", reason: "error", message: (err as Error).message });
        }
        return;
      }
      const q = new URLSearchParams(window.location.search);
      if (q.has("signed-out")) window.history.replaceState(null, "", "/");
      setPhase({ kind: "signed-out", ...(q.has("signed-out") ? { reason: "signed-out" as const } : {}) });
    })().catch((err: unknown) => setPhase({ kind: "failed", message: (err as Error).message }));
  }, []);

  const signIn = () => void manager.current?.signinRedirect({ state: window.location.hash || "#/usage" });

  if (phase.kind === "starting") return <Loading what="Meterline" />;
  if (phase.kind === "failed") return <ErrorBox title="The dashboard cannot start" message={phase.message} retry={() => window.location.reload()} />;
  if (phase.kind === "signed-out") {
    return (
      <main className="signin" id="main">
        <h1>Meterline</h1>
        <p>Usage, quotas and invoices of your tenant, verifiable against the chain.</p>
        {phase.reason === "expired" && (
          <p role="alert" className="notice">
            Your session expired. Sign in again to continue.
          </p>
        )}
        {phase.reason === "signed-out" && <p className="notice">You are signed out.</p>}
        {phase.reason === "error" && <ErrorBox title="Sign-in failed" message={phase.message ?? "unknown error"} />}
        <button type="button" className="primary" onClick={signIn} autoFocus>
          Sign in
        </button>
      </main>
    );
  }
  return (
    <SignedIn
      config={config!}
      user={phase.user}
      manager={manager.current!}
      onExpired={() => {
        void manager.current?.removeUser();
        setPhase({ kind: "signed-out", reason: "expired" });
      }}
    />
  );
}

function SignedIn({ config, user, manager, onExpired }: { config: DashboardConfig; user: User; manager: UserManager; onExpired: () => void }) {
  const claims = useMemo(() => claimsOf(user), [user]);
  const prefix = config.platformRolePrefix;
  const platformRoles = claims.roles.filter((r) => r.startsWith(prefix)).map((r) => r.slice(prefix.length));
  const tenantRoles = claims.roles.filter((r) => !r.startsWith(prefix));
  const [actingTenant, setActingTenantState] = useState<string | undefined>(undefined);
  const acting = useRef<string | undefined>(undefined);
  const expired = useRef(onExpired);
  expired.current = onExpired;
  const [generation, setGeneration] = useState(0);
  const setActingTenant = useCallback((t: string | undefined) => {
    acting.current = t;
    setActingTenantState(t);
    // A new client: nothing cached for one tenant may show under another.
    setGeneration((g) => g + 1);
  }, []);
  const client = useMemo(
    () =>
      createGraphqlClient({
        url: new URL(config.graphqlPath, window.location.origin).toString(),
        token: () => user.access_token,
        actingTenant: () => acting.current,
        onUnauthenticated: () => expired.current(),
      }),
    [config, user, generation],
  );
  const session: Session = {
    config,
    claims,
    platformRoles,
    tenantRoles,
    actingTenant,
    setActingTenant,
    signOut: () => {
      void (async () => {
        await manager.removeUser();
        await manager.signoutRedirect({ id_token_hint: user.id_token, post_logout_redirect_uri: `${window.location.origin}/?signed-out` });
      })();
    },
  };
  return (
    <SessionContext.Provider value={session}>
      <Provider value={client}>
        <App />
      </Provider>
    </SessionContext.Provider>
  );
}
