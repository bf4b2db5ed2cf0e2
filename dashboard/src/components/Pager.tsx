/** "Newer" / "Older" buttons over a cursor stack, for the paged lists (audit log, deliveries). */
export function Pager(props: { cursors: readonly (string | null)[]; setCursors: (f: (c: (string | null)[]) => (string | null)[]) => void; endCursor: string | null | undefined; hasNextPage: boolean | undefined }) {
  const { cursors, setCursors, endCursor, hasNextPage } = props;
  return (
    <div className="row">
      {cursors.length > 1 && (
        <button type="button" onClick={() => setCursors((c) => c.slice(0, -1))}>
          Newer
        </button>
      )}
      {hasNextPage && (
        <button type="button" onClick={() => setCursors((c) => [...c, endCursor ?? null])}>
          Older
        </button>
      )}
    </div>
  );
}
