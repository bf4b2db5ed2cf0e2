/** The verifier's browser-safe API: everything here runs with a viem client alone. */
export { verifyInvoice } from "./verify";
export { renderReport } from "./render";
export { plainNaming, keyedNaming, hmacSha256, type TenantNaming } from "./naming";
export { CHECK_IDS, VerifierError, type CheckId, type CheckResult, type CheckStatus, type VerificationReport } from "./result";
export type { TrustAnchors, VerifyOptions } from "./trust";
export { invoiceExportSchema, INVOICE_EXPORT_FORMAT, CREDIT_NOTE_EXPORT_FORMAT, type InvoiceExport, type CreditNoteExport, type ChainedDocument } from "./document";
