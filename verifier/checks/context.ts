/** What every check reads: the file, its documents with recomputed hashes, the trust anchors, the chain facts and the replayed ledger. */
import type { ChainFacts } from "../chain/facts";
import type { InvoiceExport, SuppliedChain } from "../document";
import type { ChargeLedger } from "../ledger";
import type { Trust, VerifyOptions } from "../trust";

export interface CheckContext {
  file: InvoiceExport;
  docs: SuppliedChain;
  trust: Trust;
  options: VerifyOptions;
  facts: ChainFacts;
  /** The history replayed: what was charged when the invoice was issued. */
  before: ChargeLedger;
  /** History, invoice and its credit notes replayed. */
  after: ChargeLedger;
  /** Adjustment line -> the base recomputed from the history. */
  bases: ReadonlyMap<number, bigint>;
}
