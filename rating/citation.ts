/**
 * How billing documents cite a usage record. A record is identified by (chain, contract, tenant,
 * reporter, sequence): the contract makes each reporter's sequences strictly increasing per tenant,
 * so the identity names one record on the canonical chain wherever a reorg re-includes it. The
 * document names chain, contract and tenant once; each citation carries reporter and sequence, what
 * was recorded, and where billing saw it (informative: a reorg may move it, never the identity).
 */
import { z } from "zod";

const hex = (bytes: number) => z.string().regex(new RegExp(`^0x[0-9a-f]{${bytes * 2}}$`), `0x-prefixed lower-case ${bytes}-byte hex`);
const decimal = z.string().regex(/^(0|[1-9]\d*)$/, "a non-negative decimal integer");
const isoInstant = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/, "an ISO 8601 instant in UTC with milliseconds");

export const recordCitationSchema = z
  .object({
    reporter: hex(20),
    sequence: decimal,
    meterId: z.number().int().positive(),
    periodStart: isoInstant,
    periodEnd: isoInstant,
    quantity: decimal,
    /** The reporter's idempotency key (hash of its source id); all zeros: none. */
    ref: hex(32),
    seenAt: z
      .object({
        blockNumber: decimal,
        txHash: hex(32),
        logIndex: z.number().int().nonnegative(),
        recordIndex: z.number().int().nonnegative(),
        commitment: hex(32),
      })
      .strict(),
  })
  .strict();

export type RecordCitation = z.infer<typeof recordCitationSchema>;

/** The identity within a tenant of one contract: `reporter:sequence`. */
export const citationKey = (c: Pick<RecordCitation, "reporter" | "sequence">): string => `${c.reporter}:${c.sequence}`;

/** Canonical order of citations: by reporter, then by sequence as a number. */
export function compareCitations(a: Pick<RecordCitation, "reporter" | "sequence">, b: Pick<RecordCitation, "reporter" | "sequence">): number {
  if (a.reporter !== b.reporter) return a.reporter < b.reporter ? -1 : 1;
  return a.sequence.length - b.sequence.length || (a.sequence < b.sequence ? -1 : a.sequence > b.sequence ? 1 : 0);
}

export const ZERO_REF = `0x${"00".repeat(32)}` as const;
