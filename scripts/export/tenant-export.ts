/**
 * A tenant's off-chain data, in full, for the platform operator to hand over (portability, a
 * regulator, an offboarding): its configuration, every billing document as the tenant verifies it,
 * its usage records as indexed, its audit log and its webhook endpoints (never their secrets).
 * Large tables stream in keyset pages, so memory stays flat at any size; a manifest lists every
 * file with its row count and SHA-256.
 */
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type pg from "pg";
import { exportInvoice } from "../../billing/export";
import { toHexOrNull } from "../../chain/hex";

export class TenantExportError extends Error {
  override name = "TenantExportError";
}

type Row = Record<string, unknown>;

/** Buffers become 0x-hex, dates ISO strings: JSON a person and a program can read. */
function plain(row: Row): Row {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Buffer.isBuffer(v) ? toHexOrNull(v) : v instanceof Date ? v.toISOString() : v]));
}

export interface ExportManifest {
  tenant: string;
  exportedAt: string;
  files: Array<{ file: string; rows: number; sha256: string }>;
}

export async function exportTenant(pool: pg.Pool, slug: string, outDir: string, now: Date = new Date()): Promise<ExportManifest> {
  const { rows: t } = await pool.query<{ id: string }>("SELECT id::text AS id FROM tenants WHERE slug = $1", [slug]);
  const tenantId = t[0]?.id;
  if (!tenantId) throw new TenantExportError(`--tenant: no tenant "${slug}" in this database`);
  await mkdir(outDir, { recursive: true, mode: 0o700 });
  if ((await readdir(outDir)).length > 0) throw new TenantExportError(`--out: ${outDir} is not empty`);
  const files: ExportManifest["files"] = [];

  const json = async (file: string, value: unknown, rows: number) => {
    const text = `${JSON.stringify(value, null, 2)}\n`;
    await writeFile(path.join(outDir, file), text, { mode: 0o600 });
    files.push({ file, rows, sha256: createHash("sha256").update(text).digest("hex") });
  };
  const table = async (file: string, sql: string) => {
    const { rows } = await pool.query<Row>(sql, [tenantId]);
    await json(file, rows.map(plain), rows.length);
  };
  /** Streams `sql` (ordered by `key`, a unique column list) in pages as JSON Lines. */
  const lines = async (file: string, sql: string, key: string[]) => {
    const hash = createHash("sha256");
    const out = createWriteStream(path.join(outDir, file), { mode: 0o600 });
    let after: unknown[] | null = null;
    let n = 0;
    for (;;) {
      const cond: string = after ? `AND (${key.join(", ")}) > (${key.map((_, i) => `$${i + 2}`).join(", ")})` : "";
      const { rows }: { rows: Row[] } = await pool.query<Row>(`${sql} ${cond} ORDER BY ${key.join(", ")} LIMIT 10000`, [tenantId, ...(after ?? [])]);
      for (const r of rows) {
        const line = `${JSON.stringify(plain(r))}\n`;
        hash.update(line);
        if (!out.write(line)) await new Promise<void>((resolve) => out.once("drain", () => resolve()));
      }
      n += rows.length;
      if (rows.length < 10000) break;
      const last: Row = rows[rows.length - 1]!;
      after = key.map((k): unknown => last[k.replace(/^.*\./, "")]);
    }
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    files.push({ file, rows: n, sha256: hash.digest("hex") });
  };

  await table("tenant.json", "SELECT t.slug, t.onchain_id, t.time_zone, c.chain_id, c.address AS contract FROM tenants t JOIN contracts c ON c.id = t.contract_id WHERE t.id = $1");
  await table("meters.json", `SELECT m.meter_id, m.name, c.aggregation, c.unit, c.display_name FROM meters m
    LEFT JOIN meter_configs c ON c.tenant_id = m.tenant_id AND c.meter_id = m.meter_id WHERE m.tenant_id = $1 ORDER BY m.meter_id`);
  await table("plans.json", `SELECT p.id AS plan_id, p.name, v.id AS version_id, v.version, v.effective_from, v.snapshot, v.snapshot_hash
    FROM rate_plans p LEFT JOIN rate_plan_versions v ON v.plan_id = p.id WHERE p.tenant_id = $1 ORDER BY p.id, v.version`);
  await table("subscriptions.json", "SELECT id, plan_id, starts_at, ends_at FROM subscriptions WHERE tenant_id = $1 ORDER BY starts_at");
  await table("plan-assignments.json", "SELECT plan_version_id, effective_from, plan_hash FROM plan_assignments WHERE tenant_id = $1 ORDER BY effective_from");
  await table("quotas.json", "SELECT meter_id, soft_limit, hard_limit, thresholds FROM quotas WHERE tenant_id = $1 ORDER BY meter_id");
  await table("quota-alerts.json", "SELECT meter_id, period_start, period_end, threshold, limit_value, usage, crossed_at FROM quota_alerts WHERE tenant_id = $1 ORDER BY id");
  await table("exclusions.json", "SELECT reporter, sequence, reason, excluded_by, excluded_at FROM billing_exclusions WHERE tenant_id = $1 ORDER BY excluded_at, reporter, sequence");
  await table("webhook-endpoints.json", "SELECT id, url, event_types, created_at, rotated_at FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY created_at");
  await table("document-chain.json", "SELECT seq, kind, number, period_start, period_end, content_hash, previous_hash FROM billing_documents WHERE tenant_id = $1 ORDER BY seq");

  // Every invoice (finalized and drafts) as the tenant verifies it, with its credit notes.
  const { rows: invoices } = await pool.query<{ id: string; number: number | null; period_start: Date }>(
    "SELECT id::text AS id, number, period_start FROM invoices WHERE tenant_id = $1 ORDER BY period_start, id",
    [tenantId],
  );
  const documents = [];
  for (const inv of invoices) documents.push(await exportInvoice(pool, tenantId, inv.id));
  await json("invoices.json", documents, documents.length);

  await lines(
    "usage-records.jsonl",
    `SELECT r.reporter, r.sequence, r.meter_id, r.period_start, r.period_end, r.quantity, r.ref, r.is_duplicate,
            r.block_number, r.tx_hash, r.log_index, r.record_index, r.commitment FROM usage_records r WHERE r.tenant_id = $1`,
    ["r.reporter", "r.sequence"],
  );
  await lines("audit-log.jsonl", "SELECT a.id, a.at, a.subject, a.platform, a.action, a.entity_type, a.entity_id, a.changes, a.request_id FROM audit_log a WHERE a.tenant_id = $1", ["a.id"]);

  const manifest: ExportManifest = { tenant: slug, exportedAt: now.toISOString(), files };
  await writeFile(path.join(outDir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  return manifest;
}
