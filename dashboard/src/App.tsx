import { useEffect, useRef, useState, type FormEvent } from "react";
import { useQuery } from "urql";
import { href, useRoute } from "./router";
import { can, useSession } from "./session";
import { ErrorBox, Loading } from "./components/State";
import { errorText } from "./graphql";
import { UsagePage } from "./pages/Usage";
import { QuotasPage } from "./pages/Quotas";
import { InvoicesPage } from "./pages/Invoices";
import { InvoicePage } from "./pages/Invoice";
import { TransactionPage } from "./pages/Transaction";
import { WebhooksPage } from "./pages/Webhooks";
import { AuditPage } from "./pages/Audit";
import { PlansPage } from "./pages/Plans";

export interface TenantInfo {
  slug: string;
  timeZone: string;
  chainId: string;
  onchainId: number;
}

const TENANT_QUERY = `query Tenant { tenant { slug timeZone chainId onchainId } viewer { subject roles platform } }`;

/** The signed-in shell: header with tenant and roles, navigation, and the page for the route. */
export function App() {
  const session = useSession();
  const route = useRoute();
  const platform = can(session, "platform");
  const main = useRef<HTMLElement>(null);
  // Moves focus to the new page's heading, so keyboard and screen-reader users land on it.
  useEffect(() => {
    main.current?.querySelector("h1")?.focus();
  }, [route.join("/")]);

  const nav: [string, string, boolean][] = [
    ["usage", "Usage", true],
    ["quotas", "Quotas", true],
    ["invoices", "Invoices", true],
    ["plans", "Plans", true],
    ["webhooks", "Webhooks", can(session, "operate")],
    ["audit", "Audit log", can(session, "audit")],
  ];
  const page = route[0] ?? "usage";
  const needsTenant = platform && !session.actingTenant;

  return (
    <>
      <a className="skip" href="#main" onClick={(e) => { e.preventDefault(); main.current?.focus(); }}>
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Meterline</span>
        {platform ? <TenantSwitcher /> : <TenantBadge />}
        <span className="who" title="From your access token">
          {session.claims.subject} · {(platform ? session.platformRoles.map((r) => `platform ${r}`) : session.tenantRoles).join(", ")}
        </span>
        <button type="button" onClick={session.signOut}>
          Sign out
        </button>
      </header>
      <nav aria-label="Pages">
        <ul>
          {nav
            .filter(([, , shown]) => shown)
            .map(([key, label]) => (
              <li key={key}>
                <a href={href(key)} aria-current={page === key ? "page" : undefined}>
                  {label}
                </a>
              </li>
            ))}
        </ul>
      </nav>
      <main id="main" ref={main} tabIndex={-1}>
        {needsTenant ? (
          <section>
            <h1 tabIndex={-1}>Choose a tenant</h1>
            <p>Platform roles act on one tenant at a time, named with every request (and audited). Enter its slug above.</p>
          </section>
        ) : (
          <WithTenant key={session.actingTenant ?? ""} page={page} arg={route[1]} />
        )}
      </main>
    </>
  );
}

function WithTenant({ page, arg }: { page: string; arg: string | undefined }) {
  const [{ data, fetching, error }, retry] = useQuery<{ tenant: TenantInfo | null }>({ query: TENANT_QUERY });
  if (fetching && !data) return <Loading what="your tenant" />;
  if (error) return <ErrorBox title="Cannot load your tenant" message={errorText(error)} retry={() => retry({ requestPolicy: "network-only" })} />;
  const tenant = data?.tenant;
  if (!tenant) return <ErrorBox title="Unknown tenant" message="The API knows no tenant by this name yet (the indexer registers tenants from the chain)." />;
  switch (page) {
    case "usage":
      return <UsagePage tenant={tenant} />;
    case "quotas":
      return <QuotasPage tenant={tenant} />;
    case "invoices":
      return arg ? <InvoicePage tenant={tenant} id={arg} /> : <InvoicesPage tenant={tenant} />;
    case "tx":
      return <TransactionPage hash={arg ?? ""} />;
    case "webhooks":
      return <WebhooksPage tenant={tenant} />;
    case "audit":
      return <AuditPage tenant={tenant} />;
    case "plans":
      return <PlansPage tenant={tenant} />;
    default:
      return (
        <section>
          <h1 tabIndex={-1}>Page not found</h1>
          <p>
            <a href={href("usage")}>Go to usage</a>
          </p>
        </section>
      );
  }
}

function TenantBadge() {
  const { claims } = useSession();
  return <span className="tenant">Tenant: {claims.tenant}</span>;
}

/** Platform operators name the tenant they act on; every request then carries it (Meterline-Tenant). */
function TenantSwitcher() {
  const session = useSession();
  const [value, setValue] = useState(session.actingTenant ?? "");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const slug = value.trim();
    session.setActingTenant(slug === "" ? undefined : slug);
  };
  return (
    <form className="switcher" onSubmit={submit}>
      <label htmlFor="tenant-switch">Acting on tenant</label>
      <input id="tenant-switch" value={value} onChange={(e) => setValue(e.target.value)} placeholder="slug, e.g. acme" pattern="[A-Za-z0-9_.\-]{1,32}" />
      <button type="submit">Switch</button>
    </form>
  );
}
