import { useEffect, useMemo, useRef, useState } from "react";
import { useClient, useQuery, useSubscription } from "urql";
import type { TenantInfo } from "../App";
import { UsageChart } from "../components/Chart";
import { Empty, ErrorBox, Loading } from "../components/State";
import { toCsv } from "../csv";
import { download } from "../download";
import { count, dateTime, dayIn, nextDay, startOfDay } from "../format";
import { errorText } from "../graphql";

export interface MeterInfo {
  id: string;
  meterId: number;
  name: string;
  config: { unit: string; displayName: string; aggregation: string } | null;
}

export const METERS_QUERY = `query Meters { meters { id meterId name config { unit displayName aggregation } } }`;
const USAGE_QUERY = `query Usage($meter: ID!, $from: DateTime!, $to: DateTime!, $granularity: Granularity!) {
  usage(meter: $meter, from: $from, to: $to, granularity: $granularity) { bucketStart quantity records }
}`;
const LIVE = `subscription Live { usageRecorded { records toBlock } }`;
const RECORDS_QUERY = `query Records($first: Int!, $after: String, $filter: UsageRecordFilter) {
  usageRecords(first: $first, after: $after, filter: $filter) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { identity meterId periodStart periodEnd quantity sequence ref reporter blockTime onchain { txHash blockNumber logIndex } } }
  }
}`;

type Granularity = "HOUR" | "DAY" | "MONTH";
interface Point {
  bucketStart: string;
  quantity: string;
  records: string;
}
interface RecordNode {
  identity: string;
  meterId: number;
  periodStart: string;
  periodEnd: string;
  quantity: string;
  sequence: string;
  ref: string;
  reporter: string;
  blockTime: string;
  onchain: { txHash: string; blockNumber: string; logIndex: number };
}

export const meterLabel = (m: MeterInfo | undefined, id: number) => (m ? (m.config?.displayName ?? m.name) : `meter ${id}`);

/** Usage per meter over time, bucketed by the API in the tenant's zone, refreshed live over SSE. */
export function UsagePage({ tenant }: { tenant: TenantInfo }) {
  const tz = tenant.timeZone;
  const [meters] = useQuery<{ meters: MeterInfo[] }>({ query: METERS_QUERY });
  const [meter, setMeter] = useState<string>("");
  const [granularity, setGranularity] = useState<Granularity>("HOUR");
  const [fromDay, setFromDay] = useState(() => dayIn(tz, -1));
  const [toDay, setToDay] = useState(() => dayIn(tz, 0));
  const list = meters.data?.meters ?? [];
  const selected = list.find((m) => m.id === meter) ?? list[0];
  const badRange = fromDay > toDay;
  const variables = useMemo(
    () => ({
      meter: selected?.id ?? "",
      from: startOfDay(fromDay, tz).toISOString(),
      // The range includes the whole last day.
      to: startOfDay(nextDay(toDay), tz).toISOString(),
      granularity,
    }),
    [selected?.id, fromDay, toDay, granularity, tz],
  );
  const [usage, refetch] = useQuery<{ usage: Point[] }>({ query: USAGE_QUERY, variables, pause: !selected || badRange });
  const [live] = useSubscription<{ usageRecorded: { records: number; toBlock: string } }>({ query: LIVE });
  const [liveCount, setLiveCount] = useState(0);
  const lastLive = useRef<unknown>(undefined);
  useEffect(() => {
    if (!live.data || live.data === lastLive.current) return;
    lastLive.current = live.data;
    setLiveCount((n) => n + live.data!.usageRecorded.records);
    refetch({ requestPolicy: "network-only" });
  }, [live.data, refetch]);

  const points = usage.data?.usage ?? [];
  const times = useMemo(() => points.map((p) => Date.parse(p.bucketStart) / 1000), [points]);
  const values = useMemo(() => points.map((p) => Number(p.quantity)), [points]);
  const unit = selected?.config?.unit ?? "";

  return (
    <section aria-labelledby="usage-title">
      <h1 id="usage-title" tabIndex={-1}>
        Usage
      </h1>
      <p className="hint">Buckets start at midnight and on the hour in the tenant's time zone, {tz}.</p>
      {meters.error && <ErrorBox title="Cannot load meters" message={errorText(meters.error)} />}
      {meters.fetching && !meters.data && <Loading what="meters" />}
      {meters.data && list.length === 0 && <Empty>No meters yet: the tenant's meters appear once they are registered on chain.</Empty>}
      {selected && (
        <>
          <form className="controls" onSubmit={(e) => e.preventDefault()}>
            <label>
              Meter
              <select value={selected.id} onChange={(e) => setMeter(e.target.value)}>
                {list.map((m) => (
                  <option key={m.id} value={m.id}>
                    {meterLabel(m, m.meterId)}
                  </option>
                ))}
              </select>
            </label>
            <fieldset>
              <legend>Granularity</legend>
              {(["HOUR", "DAY", "MONTH"] as const).map((g) => (
                <label key={g} className="radio">
                  <input type="radio" name="granularity" value={g} checked={granularity === g} onChange={() => setGranularity(g)} />
                  {g.toLowerCase()}
                </label>
              ))}
            </fieldset>
            <label>
              From
              <input type="date" value={fromDay} max={toDay} onChange={(e) => e.target.value && setFromDay(e.target.value)} />
            </label>
            <label>
              To
              <input type="date" value={toDay} min={fromDay} onChange={(e) => e.target.value && setToDay(e.target.value)} />
            </label>
            <CsvButton meter={selected} from={variables.from} to={variables.to} />
          </form>
          <p className="live" role="status" aria-live="polite">
            {live.error ? `Live updates stopped: ${errorText(live.error)}` : liveCount > 0 ? `Live: ${count(liveCount)} new records since you opened this page.` : "Live: waiting for new usage…"}
          </p>
          {badRange && <ErrorBox title="Bad date range" message="The start date is after the end date." />}
          {usage.error && <ErrorBox title="Cannot load usage" message={errorText(usage.error)} retry={() => refetch({ requestPolicy: "network-only" })} />}
          {usage.fetching && !usage.data && <Loading what="usage" />}
          {usage.data && points.length === 0 && <Empty>No usage of {meterLabel(selected, selected.meterId)} in this range.</Empty>}
          {points.length > 0 && (
            <>
              <UsageChart range={[Date.parse(variables.from) / 1000, Date.parse(variables.to) / 1000]} times={times} values={values} label={`${meterLabel(selected, selected.meterId)}${unit ? ` (${unit})` : ""}`} timeZone={tz} />
              <table className="data" data-testid="usage-table">
                <caption>
                  {meterLabel(selected, selected.meterId)} per {granularity.toLowerCase()} ({points.length} {points.length === 1 ? "bucket" : "buckets"} with usage)
                </caption>
                <thead>
                  <tr>
                    <th scope="col">Bucket start ({tz})</th>
                    <th scope="col" className="num">
                      Quantity{unit ? ` (${unit})` : ""}
                    </th>
                    <th scope="col" className="num">
                      Records
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {[...points].reverse().map((p) => (
                    <tr key={p.bucketStart}>
                      <td>{dateTime(p.bucketStart, tz)}</td>
                      <td className="num">{count(p.quantity)}</td>
                      <td className="num">{count(p.records)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          )}
        </>
      )}
    </section>
  );
}

/** Every usage record of the meter in the range, paged through the API, as one CSV file. */
function CsvButton({ meter, from, to }: { meter: MeterInfo; from: string; to: string }) {
  const client = useClient();
  const [state, setState] = useState<string>("");
  const run = async () => {
    setState("Preparing CSV…");
    const rows: RecordNode[] = [];
    let after: string | null = null;
    for (;;) {
      const r = await client
        .query<{ usageRecords: { pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: { node: RecordNode }[] } }>(
          RECORDS_QUERY,
          { first: 200, after, filter: { meter: meter.id, from, to } },
          { requestPolicy: "network-only" },
        )
        .toPromise();
      if (r.error || !r.data) {
        setState(`CSV failed: ${r.error ? errorText(r.error) : "no data"}`);
        return;
      }
      rows.push(...r.data.usageRecords.edges.map((e) => e.node));
      if (!r.data.usageRecords.pageInfo.hasNextPage || rows.length >= 100_000) break;
      after = r.data.usageRecords.pageInfo.endCursor;
    }
    download(
      `usage-${meter.name}-${from.slice(0, 10)}-${to.slice(0, 10)}.csv`,
      toCsv(
        ["identity", "meter", "period_start", "period_end", "quantity", "reporter", "sequence", "ref", "block_time", "block_number", "tx_hash", "log_index"],
        rows.map((n) => [n.identity, meter.name, n.periodStart, n.periodEnd, n.quantity, n.reporter, n.sequence, n.ref, n.blockTime, n.onchain.blockNumber, n.onchain.txHash, n.onchain.logIndex]),
      ),
    );
    setState(`Downloaded ${count(rows.length)} records.`);
  };
  return (
    <span className="csv">
      <button type="button" onClick={() => void run()}>
        Download usage records (CSV)
      </button>
      <span role="status" aria-live="polite">
        {state}
      </span>
    </span>
  );
}
