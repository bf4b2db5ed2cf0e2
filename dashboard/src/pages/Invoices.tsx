import { useState } from "react";
import { useQuery } from "urql";
import type { TenantInfo } from "../App";
import { Empty, ErrorBox, Loading } from "../components/State";
import { date, money } from "../format";
import { errorText } from "../graphql";
import { href } from "../router";

interface InvoiceRow {
  id: string;
  number: number | null;
  status: "DRAFT" | "FINALIZED";
  periodStart: string;
  periodEnd: string;
  currency: string;
  currencyExponent: number;
  totalMinor: string;
  finalizedAt: string | null;
  creditNotes: { id: string }[];
}

const INVOICES = `query Invoices($status: InvoiceStatus, $after: String) {
  invoices(status: $status, first: 50, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id number status periodStart periodEnd currency currencyExponent totalMinor finalizedAt creditNotes { id } } }
  }
}`;

export function InvoicesPage({ tenant }: { tenant: TenantInfo }) {
  const [status, setStatus] = useState<"" | "DRAFT" | "FINALIZED">("");
  const [after, setAfter] = useState<string | null>(null);
  const [{ data, fetching, error }, retry] = useQuery<{
    invoices: { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: { node: InvoiceRow }[] };
  }>({ query: INVOICES, variables: { status: status || null, after } });
  const rows = data?.invoices.edges.map((e) => e.node) ?? [];
  return (
    <section>
      <h1 tabIndex={-1}>Invoices</h1>
      <form className="controls" onSubmit={(e) => e.preventDefault()}>
        <label>
          Status
          <select
            value={status}
            onChange={(e) => {
              setStatus(e.target.value as typeof status);
              setAfter(null);
            }}
          >
            <option value="">all</option>
            <option value="FINALIZED">finalized</option>
            <option value="DRAFT">draft</option>
          </select>
        </label>
      </form>
      {error && <ErrorBox title="Cannot load invoices" message={errorText(error)} retry={() => retry({ requestPolicy: "network-only" })} />}
      {fetching && !data && <Loading what="invoices" />}
      {data && rows.length === 0 && <Empty>No invoices yet: billing drafts one for the current period once there is usage.</Empty>}
      {rows.length > 0 && (
        <table className="data" data-testid="invoices">
          <caption>{data!.invoices.totalCount} invoices</caption>
          <thead>
            <tr>
              <th scope="col">Number</th>
              <th scope="col">Period ({tenant.timeZone})</th>
              <th scope="col">Status</th>
              <th scope="col" className="num">
                Total
              </th>
              <th scope="col">Credit notes</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((i) => (
              <tr key={i.id}>
                <td>
                  <a href={href("invoices", i.id)}>{i.number === null ? "Draft" : `#${i.number}`}</a>
                </td>
                <td>
                  {date(i.periodStart, tenant.timeZone)} – {date(new Date(Date.parse(i.periodEnd) - 1).toISOString(), tenant.timeZone)}
                </td>
                <td>
                  <span className={`badge badge-${i.status.toLowerCase()}`}>{i.status.toLowerCase()}</span>
                </td>
                <td className="num">{money(i.totalMinor, i.currencyExponent, i.currency)}</td>
                <td>{i.creditNotes.length || ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {data?.invoices.pageInfo.hasNextPage && (
        <button type="button" onClick={() => setAfter(data.invoices.pageInfo.endCursor)}>
          Older invoices
        </button>
      )}
    </section>
  );
}
