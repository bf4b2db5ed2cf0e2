import { useQuery } from "urql";
import type { TenantInfo } from "../App";
import { Empty, ErrorBox, Loading } from "../components/State";
import { count, date, money } from "../format";
import { errorText } from "../graphql";
import { METERS_QUERY, meterLabel, type MeterInfo } from "./Usage";

interface Price {
  meterId: number;
  model: string;
  unitPrice: string | null;
  includedUnits: string;
  packageSize: string | null;
  tiers: { upTo: string | null; unitPrice: string; flatFee: string }[];
}
interface Plan {
  id: string;
  name: string;
  versions: { id: string; version: number; effectiveFrom: string; currency: string; currencyExponent: number; minimumMinor: string; prices: Price[] }[];
}
interface Subscription {
  id: string;
  plan: { id: string; name: string } | null;
  startsAt: string;
  endsAt: string | null;
}

const PLANS = `query Plans {
  plans { id name versions { id version effectiveFrom currency currencyExponent minimumMinor prices { meterId model unitPrice includedUnits packageSize tiers { upTo unitPrice flatFee } } } }
  subscriptions { id plan { id name } startsAt endsAt }
}`;

function priceText(p: Price, currency: string): string {
  const incl = p.includedUnits !== "0" ? `, first ${count(p.includedUnits)} included` : "";
  if (p.model === "per_unit") return `${p.unitPrice} ${currency} per unit${incl}`;
  if (p.model === "package") return `${p.unitPrice} ${currency} per ${count(p.packageSize ?? "1")} units${incl}`;
  const tiers = p.tiers.map((t) => `${t.upTo ? `up to ${count(t.upTo)}` : "above"}: ${t.unitPrice}${t.flatFee !== "0" ? ` + ${t.flatFee} flat` : ""}`).join("; ");
  return `${p.model} (${tiers})${incl}`;
}

/** The tenant's plans, versions and prices, and which plan applies when. */
export function PlansPage({ tenant }: { tenant: TenantInfo }) {
  const [{ data, fetching, error }, retry] = useQuery<{ plans: Plan[]; subscriptions: Subscription[] }>({ query: PLANS });
  const [meters] = useQuery<{ meters: MeterInfo[] }>({ query: METERS_QUERY });
  const byId = new Map((meters.data?.meters ?? []).map((m) => [m.meterId, m]));
  const tz = tenant.timeZone;
  return (
    <section>
      <h1 tabIndex={-1}>Plans</h1>
      {error && <ErrorBox title="Cannot load plans" message={errorText(error)} retry={() => retry({ requestPolicy: "network-only" })} />}
      {fetching && !data && <Loading what="plans" />}
      {data && (
        <>
          <h2>Subscriptions</h2>
          {data.subscriptions.length === 0 ? (
            <Empty>Not subscribed to a plan.</Empty>
          ) : (
            <ul data-testid="subscriptions">
              {data.subscriptions.map((s) => (
                <li key={s.id}>
                  {s.plan?.name ?? "(plan)"} from {date(s.startsAt, tz)} {s.endsAt ? `until ${date(s.endsAt, tz)}` : "on"}
                </li>
              ))}
            </ul>
          )}
          {data.plans.length === 0 && <Empty>No plans.</Empty>}
          {data.plans.map((p) => (
            <article key={p.id} className="card" data-testid="plan">
              <h2>Plan {p.name}</h2>
              {p.versions.map((v) => (
                <section key={v.id}>
                  <h3>
                    Version {v.version}, from {date(v.effectiveFrom, tz)}
                  </h3>
                  <p>Minimum per invoice: {money(v.minimumMinor, v.currencyExponent, v.currency)}</p>
                  <ul>
                    {v.prices.map((pr) => (
                      <li key={pr.meterId}>
                        <strong>{meterLabel(byId.get(pr.meterId), pr.meterId)}</strong>: {priceText(pr, v.currency)}
                      </li>
                    ))}
                  </ul>
                </section>
              ))}
            </article>
          ))}
        </>
      )}
    </section>
  );
}
