import { useState } from "react";
import { useQuery } from "urql";
import type { TenantInfo } from "../App";
import { Empty, ErrorBox, Loading } from "../components/State";
import { dateTime } from "../format";
import { errorText } from "../graphql";
import { Pager } from "../components/Pager";

interface Entry {
  id: string;
  at: string;
  subject: string;
  platform: boolean;
  action: string;
  entityType: string;
  entityId: string | null;
  changes: string | null;
  ip: string | null;
  requestId: string | null;
}

const AUDIT = `query Audit($after: String) { auditLog(first: 50, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id at subject platform action entityType entityId changes ip requestId } } } }`;

export function AuditPage({ tenant }: { tenant: TenantInfo }) {
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const after = cursors.at(-1) ?? null;
  const [{ data, fetching, error }, retry] = useQuery<{
    auditLog: { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: { node: Entry }[] };
  }>({ query: AUDIT, variables: { after } });
  const rows = data?.auditLog.edges.map((e) => e.node) ?? [];
  return (
    <section>
      <h1 tabIndex={-1}>Audit log</h1>
      {error && <ErrorBox title="Cannot load the audit log" message={errorText(error)} retry={() => retry({ requestPolicy: "network-only" })} />}
      {fetching && !data && <Loading what="the audit log" />}
      {data && rows.length === 0 && <Empty>Nothing recorded yet: configuration changes and platform access appear here.</Empty>}
      {rows.length > 0 && (
        <table className="data" data-testid="audit">
          <caption>
            {data!.auditLog.totalCount} entries, newest first (page {cursors.length})
          </caption>
          <thead>
            <tr>
              <th scope="col">When ({tenant.timeZone})</th>
              <th scope="col">Who</th>
              <th scope="col">Action</th>
              <th scope="col">On</th>
              <th scope="col">Change</th>
              <th scope="col">From</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.id}>
                <td>{dateTime(r.at, tenant.timeZone)}</td>
                <td>
                  {r.subject}
                  {r.platform ? " (platform)" : ""}
                </td>
                <td>{r.action}</td>
                <td>
                  {r.entityType}
                  {r.entityId ? ` ${r.entityId}` : ""}
                </td>
                <td>{r.changes ? <details><summary>show</summary><pre>{r.changes}</pre></details> : "—"}</td>
                <td>
                  {r.ip ?? ""} {r.requestId ? <span className="mono" title="request id">{r.requestId.slice(0, 8)}</span> : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager cursors={cursors} setCursors={setCursors} endCursor={data?.auditLog.pageInfo.endCursor} hasNextPage={data?.auditLog.pageInfo.hasNextPage} />
    </section>
  );
}
