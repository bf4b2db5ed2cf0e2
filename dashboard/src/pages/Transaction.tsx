import { useEffect, useState } from "react";
import { ErrorBox, Loading } from "../components/State";
import { useSession } from "../session";

interface Receipt {
  blockNumber: string;
  blockHash: string;
  from: string;
  to: string | null;
  status: string;
  gasUsed: string;
  logs: unknown[];
}

/** A transaction as the chain's RPC reports it: where a cited record was written. */
export function TransactionPage({ hash }: { hash: string }) {
  const { config } = useSession();
  const [receipt, setReceipt] = useState<Receipt | null | undefined>(undefined);
  const [error, setError] = useState<string>();
  useEffect(() => {
    if (!config.chain) return;
    if (!/^0x[0-9a-fA-F]{64}$/.test(hash)) {
      setError("Not a transaction hash.");
      return;
    }
    fetch(config.chain.rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_getTransactionReceipt", params: [hash] }),
    })
      .then((r) => r.json() as Promise<{ result?: Receipt | null; error?: { message: string } }>)
      .then((b) => (b.error ? setError(b.error.message) : setReceipt(b.result ?? null)))
      .catch((err: unknown) => setError(`Cannot reach the chain at ${config.chain!.rpcUrl}: ${(err as Error).message}`));
  }, [hash, config.chain]);
  return (
    <section>
      <h1 tabIndex={-1}>Transaction</h1>
      <p className="mono">{hash}</p>
      {!config.chain && <ErrorBox title="No chain configured" message="The API was started without DASHBOARD_RPC_URL." />}
      {error && <ErrorBox title="Cannot read the transaction" message={error} />}
      {config.chain && receipt === undefined && !error && <Loading what="the receipt" />}
      {receipt === null && <ErrorBox title="Not found" message="The chain has no receipt for this transaction (a reorg may have dropped it)." />}
      {receipt && (
        <dl className="facts">
          <dt>Status</dt>
          <dd>{receipt.status === "0x1" ? "success" : "reverted"}</dd>
          <dt>Block</dt>
          <dd>
            {BigInt(receipt.blockNumber).toString()} <span className="mono">{receipt.blockHash}</span>
          </dd>
          <dt>From</dt>
          <dd className="mono">{receipt.from}</dd>
          <dt>To</dt>
          <dd className="mono">{receipt.to}</dd>
          <dt>Events</dt>
          <dd>{receipt.logs.length}</dd>
          <dt>Gas used</dt>
          <dd>{BigInt(receipt.gasUsed).toString()}</dd>
          <dt>Chain</dt>
          <dd>{config.chain?.rpcUrl}</dd>
        </dl>
      )}
      <p>
        <a href="#/invoices">Back to invoices</a>
      </p>
    </section>
  );
}
