import { useState } from "react";
import { useMutation, useQuery } from "urql";
import type { TenantInfo } from "../App";
import { Empty, ErrorBox, Loading } from "../components/State";
import { dateTime } from "../format";
import { errorText } from "../graphql";
import { Pager } from "../components/Pager";

type Status = "PENDING" | "DELIVERED" | "DEAD";

interface Delivery {
  id: string;
  deliveryId: string;
  endpoint: { id: string; url: string };
  eventType: string;
  eventId: string;
  status: Status;
  attempts: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  deliveredAt: string | null;
  createdAt: string;
}

interface Page {
  webhookDeliveries: { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: { node: Delivery }[] };
}

const FIELDS = "id deliveryId endpoint { id url } eventType eventId status attempts nextAttemptAt lastStatusCode lastError deliveredAt createdAt";
const DELIVERIES = `query Deliveries($endpoint: ID, $status: WebhookDeliveryStatus, $after: String) {
  webhookDeliveries(endpoint: $endpoint, status: $status, first: 25, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { ${FIELDS} } } }
}`;
const REDELIVER = `mutation Redeliver($id: ID!) { redeliverWebhook(id: $id) { ${FIELDS} } }`;

/** The delivery log of the tenant's endpoints, newest first; dead letters can be sent again. */
export function DeliveryLog({ tenant, endpoints }: { tenant: TenantInfo; endpoints: { id: string; url: string }[] }) {
  const [endpoint, setEndpoint] = useState("");
  const [status, setStatus] = useState<"" | Status>("");
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const after = cursors.at(-1) ?? null;
  const [{ data, fetching, error }, refetch] = useQuery<Page>({
    query: DELIVERIES,
    variables: { endpoint: endpoint || null, status: status || null, after },
    requestPolicy: "cache-and-network",
  });
  const [redelivering, redeliver] = useMutation(REDELIVER);
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string }>();
  const reload = () => refetch({ requestPolicy: "network-only" });
  const rows = data?.webhookDeliveries.edges.map((e) => e.node) ?? [];
  const tz = tenant.timeZone;

  const onRedeliver = async (d: Delivery) => {
    setOutcome(undefined);
    const r = await redeliver({ id: d.id });
    if (r.error) return setOutcome({ ok: false, text: errorText(r.error) });
    setOutcome({ ok: true, text: `Delivery ${d.deliveryId} to ${d.endpoint.url} is queued again under the same id: the next attempt is due now.` });
    reload();
  };
  const filter = (set: () => void) => {
    set();
    setCursors([null]);
  };

  return (
    <section aria-labelledby="deliveries-title">
      <h2 id="deliveries-title">Delivery log</h2>
      <p className="hint">
        One delivery per event and endpoint, retried with backoff; after its last attempt fails it is a dead letter, sent again only when you redeliver it (under the same
        Meterline-Delivery id, so your receiver can deduplicate).
      </p>
      <div className="controls">
        <label>
          Endpoint
          <select value={endpoint} onChange={(e) => filter(() => setEndpoint(e.target.value))}>
            <option value="">All endpoints</option>
            {endpoints.map((ep) => (
              <option key={ep.id} value={ep.id}>
                {ep.url}
              </option>
            ))}
          </select>
        </label>
        <label>
          Delivery status
          <select value={status} onChange={(e) => filter(() => setStatus(e.target.value as "" | Status))}>
            <option value="">Any</option>
            <option value="PENDING">pending</option>
            <option value="DELIVERED">delivered</option>
            <option value="DEAD">dead letters</option>
          </select>
        </label>
        <button type="button" onClick={reload}>
          Refresh
        </button>
      </div>
      <div role="status" aria-live="polite">
        {outcome?.ok && <p className="notice">{outcome.text}</p>}
      </div>
      {outcome && !outcome.ok && <ErrorBox title="The API refused the redelivery" message={outcome.text} />}
      {error && <ErrorBox title="Cannot load the delivery log" message={errorText(error)} retry={reload} />}
      {fetching && !data && <Loading what="the delivery log" />}
      {data && rows.length === 0 && <Empty>No deliveries{status || endpoint ? " match these filters" : " yet: events are delivered here once an endpoint subscribes to them"}.</Empty>}
      {rows.length > 0 && (
        <table className="data" data-testid="deliveries">
          <caption>
            {data!.webhookDeliveries.totalCount} deliveries, newest first (page {cursors.length})
          </caption>
          <thead>
            <tr>
              <th scope="col">Created ({tz})</th>
              <th scope="col">Event</th>
              <th scope="col">Endpoint</th>
              <th scope="col">Status</th>
              <th scope="col" className="num">
                Attempts
              </th>
              <th scope="col">Last outcome</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((d) => (
              <tr key={d.id} data-delivery={d.deliveryId} data-status={d.status}>
                <td>{dateTime(d.createdAt, tz)}</td>
                <td>
                  {d.eventType} <span className="hint">#{d.eventId}</span>
                  <div className="mono" title="Meterline-Delivery id">
                    {d.deliveryId}
                  </div>
                </td>
                <td className="mono">{d.endpoint.url}</td>
                <td>
                  <span className={`badge badge-${d.status.toLowerCase()}`}>{d.status === "DEAD" ? "dead letter" : d.status.toLowerCase()}</span>
                </td>
                <td className="num">{d.attempts}</td>
                <td>
                  {d.status === "DELIVERED" && d.deliveredAt ? `HTTP ${d.lastStatusCode ?? "2xx"} at ${dateTime(d.deliveredAt, tz)}` : (d.lastError ?? "not attempted yet")}
                  {d.status === "PENDING" && d.nextAttemptAt && <div className="hint">next attempt {dateTime(d.nextAttemptAt, tz)}</div>}
                </td>
                <td className="actions">
                  {d.status === "DEAD" ? (
                    <button type="button" disabled={redelivering.fetching} onClick={() => void onRedeliver(d)} aria-label={`Redeliver ${d.eventType} delivery ${d.deliveryId}`}>
                      Redeliver
                    </button>
                  ) : (
                    "—"
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager cursors={cursors} setCursors={setCursors} endCursor={data?.webhookDeliveries.pageInfo.endCursor} hasNextPage={data?.webhookDeliveries.pageInfo.hasNextPage} />
    </section>
  );
}
