-- Drafts are recomputed on every billing pass; a fingerprint of their inputs (records, plan
-- snapshot, adjustment sources) lets a pass skip drafts whose inputs did not change.
ALTER TABLE invoices ADD COLUMN source_fingerprint text;
