import { useQuery } from "urql";
import type { TenantInfo } from "../App";
import { Gauge } from "../components/Gauge";
import { Empty, ErrorBox, Loading } from "../components/State";
import { count, dateTime } from "../format";
import { errorText } from "../graphql";
import { METERS_QUERY, meterLabel, type MeterInfo } from "./Usage";

interface Quota {
  id: string;
  meterId: number;
  softLimit: string | null;
  hardLimit: string | null;
  thresholds: number[];
  usage: string;
  status: "OK" | "WARNING" | "EXCEEDED";
  periodStart: string;
  periodEnd: string;
}

const QUOTAS = `query Quotas { quotas { id meterId softLimit hardLimit thresholds usage status periodStart periodEnd } }`;

/** Quotas of the current billing period as gauges: usage against the hard (or soft) limit, alert thresholds as ticks. */
export function QuotasPage({ tenant }: { tenant: TenantInfo }) {
  const [{ data, fetching, error }, retry] = useQuery<{ quotas: Quota[] }>({ query: QUOTAS });
  const [meters] = useQuery<{ meters: MeterInfo[] }>({ query: METERS_QUERY });
  const byId = new Map((meters.data?.meters ?? []).map((m) => [m.meterId, m]));
  return (
    <section>
      <h1 tabIndex={-1}>Quotas</h1>
      {error && <ErrorBox title="Cannot load quotas" message={errorText(error)} retry={() => retry({ requestPolicy: "network-only" })} />}
      {fetching && !data && <Loading what="quotas" />}
      {data && data.quotas.length === 0 && <Empty>No quotas: the platform has set no limits on your meters.</Empty>}
      <ul className="cards">
        {data?.quotas.map((q) => {
          const limit = q.hardLimit ?? q.softLimit;
          const m = byId.get(q.meterId);
          const label = meterLabel(m, q.meterId);
          return (
            <li key={q.id} className={`card quota status-${q.status.toLowerCase()}`} data-testid="quota">
              <h2>{label}</h2>
              <Gauge value={Number(q.usage)} max={Number(limit ?? 0)} thresholds={q.thresholds} status={q.status} label={label} />
              <p className={`badge badge-${q.status.toLowerCase()}`}>{q.status}</p>
              <dl>
                <dt>Used</dt>
                <dd>
                  {count(q.usage)} {m?.config?.unit ?? ""}
                </dd>
                <dt>Hard limit</dt>
                <dd>{q.hardLimit ? count(q.hardLimit) : "none"}</dd>
                <dt>Soft limit</dt>
                <dd>{q.softLimit ? count(q.softLimit) : "none"}</dd>
                <dt>Alerts at</dt>
                <dd>{q.thresholds.map((t) => `${t} %`).join(", ") || "none"}</dd>
                <dt>Period</dt>
                <dd>
                  {dateTime(q.periodStart, tenant.timeZone)} – {dateTime(q.periodEnd, tenant.timeZone)}
                </dd>
              </dl>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
