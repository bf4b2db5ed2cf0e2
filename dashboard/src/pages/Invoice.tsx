import { useState } from "react";
import { useQuery } from "urql";
import type { TenantInfo } from "../App";
import { Empty, ErrorBox, Loading } from "../components/State";
import { toCsv } from "../csv";
import { download } from "../download";
import { count, date, dateTime, money, short } from "../format";
import { errorText } from "../graphql";
import { href } from "../router";
import { useSession } from "../session";
import type { CheckResult, VerificationReport } from "../../../verifier/index";

interface Citation {
  identity: string;
  quantity: string;
  periodStart: string;
  seenAt: { txHash: string; blockNumber: string; logIndex: number };
}
interface Line {
  lineNo: number;
  kind: string;
  meterId: number | null;
  description: string;
  aggregation: string | null;
  quantity: string;
  amountMinor: string;
  citations: Citation[];
}
interface CreditNote {
  id: string;
  number: number;
  reason: string;
  memo: string;
  issuedAt: string;
  totalMinor: string;
  currency: string;
  currencyExponent: number;
}
interface Invoice {
  id: string;
  number: number | null;
  status: string;
  periodStart: string;
  periodEnd: string;
  timeZone: string;
  currency: string;
  currencyExponent: number;
  totalMinor: string;
  confirmedBlock: string | null;
  contentHash: string | null;
  finalizedAt: string | null;
  replaces: { id: string; number: number | null } | null;
  lines: Line[];
  creditNotes: CreditNote[];
  export: string | null;
}

const INVOICE = `query Invoice($id: ID!) {
  invoice(id: $id) {
    id number status periodStart periodEnd timeZone currency currencyExponent totalMinor confirmedBlock contentHash finalizedAt
    replaces { id number }
    lines { lineNo kind meterId description aggregation quantity amountMinor citations(first: 100) { identity quantity periodStart seenAt { txHash blockNumber logIndex } } }
    creditNotes { id number reason memo issuedAt totalMinor currency currencyExponent }
    export
  }
}`;

export function InvoicePage({ tenant, id }: { tenant: TenantInfo; id: string }) {
  const [{ data, fetching, error }, retry] = useQuery<{ invoice: Invoice | null }>({ query: INVOICE, variables: { id } });
  const inv = data?.invoice;
  const tz = tenant.timeZone;
  // The anchor status is what the chain says, so it comes from the verifier, not from the API.
  const [anchored, setAnchored] = useState<CheckResult>();
  return (
    <section>
      <p>
        <a href={href("invoices")}>← All invoices</a>
      </p>
      <h1 tabIndex={-1}>{inv ? (inv.number === null ? "Draft invoice" : `Invoice #${inv.number}`) : "Invoice"}</h1>
      {error && <ErrorBox title="Cannot load the invoice" message={errorText(error)} retry={() => retry({ requestPolicy: "network-only" })} />}
      {fetching && !data && <Loading what="the invoice" />}
      {data && !inv && <Empty>No such invoice for this tenant.</Empty>}
      {inv && (
        <>
          <dl className="facts">
            <dt>Status</dt>
            <dd>
              <span className={`badge badge-${inv.status.toLowerCase()}`}>{inv.status.toLowerCase()}</span>
            </dd>
            <dt>Period</dt>
            <dd>
              {date(inv.periodStart, inv.timeZone)} – {date(new Date(Date.parse(inv.periodEnd) - 1).toISOString(), inv.timeZone)} ({inv.timeZone})
            </dd>
            <dt>Total</dt>
            <dd>{money(inv.totalMinor, inv.currencyExponent, inv.currency)}</dd>
            <dt>Finalized</dt>
            <dd>{inv.finalizedAt ? `${dateTime(inv.finalizedAt, tz)}, usage confirmed up to block ${inv.confirmedBlock}` : "not yet (a draft changes as usage arrives)"}</dd>
            <dt>Content hash</dt>
            <dd className="mono">{inv.contentHash ?? "—"}</dd>
            <dt>Anchor</dt>
            <dd data-testid="anchor-status">
              {inv.status !== "FINALIZED"
                ? "Drafts are not anchored."
                : anchored
                  ? `${STATUS_TEXT[anchored.status]} on chain: ${anchored.summary}`
                  : "Not checked yet: “Verify against the chain” reads it from the InvoiceAnchor."}
            </dd>
            {inv.replaces && (
              <>
                <dt>Replaces</dt>
                <dd>
                  <a href={href("invoices", inv.replaces.id)}>#{inv.replaces.number}</a>
                </dd>
              </>
            )}
          </dl>
          <LinesTable inv={inv} />
          <CreditNotes notes={inv.creditNotes} tz={tz} />
          {inv.export ? <Verify exported={inv.export} tenant={tenant.slug} number={inv.number} onInvoiceReport={(r) => setAnchored(r.checks.find((c) => c.id === "anchored"))} /> : <p className="hint">Only finalized invoices have an export to verify.</p>}
        </>
      )}
    </section>
  );
}

function LinesTable({ inv }: { inv: Invoice }) {
  const csv = () =>
    download(
      `invoice-${inv.number ?? "draft"}-lines.csv`,
      toCsv(
        ["line", "kind", "meter_id", "description", "aggregation", "quantity", "amount_minor", "currency", "records_cited"],
        inv.lines.map((l) => [l.lineNo, l.kind, l.meterId, l.description, l.aggregation, l.quantity, l.amountMinor, inv.currency, l.citations.length]),
      ),
    );
  return (
    <>
      <h2>Lines</h2>
      <button type="button" onClick={csv}>
        Download lines (CSV)
      </button>
      <table className="data" data-testid="invoice-lines">
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Description</th>
            <th scope="col" className="num">
              Quantity
            </th>
            <th scope="col" className="num">
              Amount
            </th>
            <th scope="col">Cited records</th>
          </tr>
        </thead>
        <tbody>
          {inv.lines.map((l) => (
            <tr key={l.lineNo}>
              <td>{l.lineNo}</td>
              <td>{l.description}</td>
              <td className="num">{count(l.quantity)}</td>
              <td className="num">{money(l.amountMinor, inv.currencyExponent, inv.currency)}</td>
              <td>
                {l.citations.length === 0 ? (
                  "—"
                ) : (
                  <details>
                    <summary>{l.citations.length} records</summary>
                    <ul className="citations">
                      {l.citations.map((c) => (
                        <li key={c.identity}>
                          <span className="mono">{short(c.identity, 8)}</span> · {count(c.quantity)} · block {c.seenAt.blockNumber} ·{" "}
                          <a href={href("tx", c.seenAt.txHash)} className="mono" aria-label={`transaction ${c.seenAt.txHash}`}>
                            tx {short(c.seenAt.txHash, 8)}
                          </a>
                        </li>
                      ))}
                    </ul>
                  </details>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function CreditNotes({ notes, tz }: { notes: CreditNote[]; tz: string }) {
  return (
    <>
      <h2>Credit notes</h2>
      {notes.length === 0 ? (
        <Empty>No credit notes against this invoice.</Empty>
      ) : (
        <ul className="notes">
          {notes.map((n) => (
            <li key={n.id}>
              Credit note #{n.number} ({n.reason}), {dateTime(n.issuedAt, tz)}: {money(n.totalMinor, n.currencyExponent, n.currency)} — {n.memo}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

const STATUS_TEXT: Record<string, string> = { pass: "PASS", fail: "FAIL", skipped: "SKIPPED", "not-checked": "NOT CHECKED" };

/** "Verify against the chain": the verifier in this browser, every check's result shown. */
function Verify({
  exported,
  tenant,
  number,
  onInvoiceReport,
}: {
  exported: string;
  tenant: string;
  number: number | null;
  /** The report on this invoice's own export (not on a file the user picked). */
  onInvoiceReport: (report: VerificationReport) => void;
}) {
  const { config } = useSession();
  const [state, setState] = useState<{ running: boolean; report?: VerificationReport; error?: string; source?: string }>({ running: false });
  // The tenant's name key lives in this component's state only: never stored, never sent to the API.
  const [nameKey, setNameKey] = useState("");
  const run = async (text: string, source: string) => {
    setState({ running: true, source });
    try {
      if (!config.chain) throw new Error("The API was started without DASHBOARD_RPC_URL: the dashboard does not know which chain to ask.");
      const { verifyInBrowser } = await import("../verify");
      const report = await verifyInBrowser(config.chain, text, tenant, nameKey);
      if (text === exported) onInvoiceReport(report);
      setState({ running: false, source, report });
    } catch (err) {
      setState({ running: false, source, error: (err as Error).message });
    }
  };
  const fromFile = async (file: File | undefined) => {
    if (file) await run(await file.text(), file.name);
  };
  return (
    <section className="verify" aria-labelledby="verify-title">
      <h2 id="verify-title">Verify against the chain</h2>
      <p className="hint">
        Runs the Meterline verifier in this browser: it reads {config.chain ? config.chain.rpcUrl : "the chain"} directly and trusts only the contract addresses of this deployment, not the API.
      </p>
      <div className="field">
        <label htmlFor="name-key">Your name key</label>
        <input
          id="name-key"
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={nameKey}
          onChange={(e) => setNameKey(e.target.value)}
          aria-describedby="name-key-hint"
        />
        <p id="name-key-hint" className="hint">
          Your name key, from your own records — the platform&apos;s page should not supply it. The chain knows tenant “{tenant}” only by its name hashed under this key; it is used in
          this browser to compute that hash and is never stored or sent to the API.
        </p>
      </div>
      <div className="row">
        <button type="button" className="primary" disabled={state.running} onClick={() => void run(exported, `invoice #${number}`)}>
          Verify against the chain
        </button>
        <button type="button" onClick={() => download(`invoice-${number}.json`, exported, "application/json")}>
          Download export (JSON)
        </button>
        <label className="file">
          Verify a saved export
          <input type="file" accept="application/json,.json" onChange={(e) => void fromFile(e.target.files?.[0])} />
        </label>
      </div>
      <div role="status" aria-live="polite">
        {state.running && <p>Verifying {state.source} against the chain…</p>}
      </div>
      {state.error && <ErrorBox title="Verification could not run" message={state.error} />}
      {state.report && (
        <div className="report" data-testid="verify-report">
          <p className={`verdict ${state.report.verified ? "ok" : "bad"}`} data-testid="verdict">
            {state.source}: {state.report.verified ? "VERIFIED" : "NOT VERIFIED"}
          </p>
          {!state.report.verified && (
            <p data-testid="failed-checks">
              Failed: {state.report.checks.filter((c) => c.status === "fail").map((c) => c.id).join(", ") || "none (some checks could not run)"}
            </p>
          )}
          {state.report.checks.some((c) => c.id === "parties" && c.status === "fail" && /no tenant is registered/.test(c.summary + c.problems.join(" "))) && (
            <p className="hint" data-testid="name-key-advice">
              The chain has no tenant under the name computed with the key you entered: check that it is the name key your platform gave you for “{tenant}” (a wrong key gives a different name).
            </p>
          )}
          <table className="data">
            <thead>
              <tr>
                <th scope="col">Check</th>
                <th scope="col">Result</th>
                <th scope="col">What it found</th>
              </tr>
            </thead>
            <tbody>
              {state.report.checks.map((c) => (
                <tr key={c.id} className={`check-${c.status}`} data-check={c.id} data-status={c.status}>
                  <th scope="row">{c.id}</th>
                  <td>{STATUS_TEXT[c.status]}</td>
                  <td>
                    {c.summary}
                    {c.problems.length > 1 && (
                      <ul>
                        {c.problems.map((p) => (
                          <li key={p}>{p}</li>
                        ))}
                      </ul>
                    )}
                    {c.notes.map((n) => (
                      <p key={n} className="hint">
                        {n}
                      </p>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
