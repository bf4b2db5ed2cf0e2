import { createPublicClient, custom, type PublicClient } from "viem";
import { openDatabase } from "../../db/connection";
import type { AuditSection } from "./chain-audit";
import { auditDatabase } from "./database-audit";

export { auditDatabase, type DatabaseAuditOptions, type DatabaseAuditResult } from "./database-audit";

/** An EIP-1193 provider, such as `hre.network.provider`. */
export interface Eip1193Provider {
  request(args: { method: string; params?: unknown[] | object }): Promise<unknown>;
}

/**
 * The database sections of `meter:audit --database <url>`: opens the database, reconciles it with
 * the chain behind `provider`, closes it. Sections render with the chain audit's report.
 */
export async function databaseAuditSections(databaseUrl: string, provider: Eip1193Provider): Promise<AuditSection[]> {
  const db = await openDatabase({ target: { kind: "postgres", url: databaseUrl }, maxConnections: 2, applicationName: "meterline-audit" });
  try {
    const client = createPublicClient({ transport: custom(provider) }) as PublicClient;
    return (await auditDatabase({ db, client })).sections;
  } finally {
    await db.close();
  }
}
