import { task } from "hardhat/config";
import path from "node:path";
import { openDatabase } from "../../db/connection";
import { exportTenant, TenantExportError } from "../export/tenant-export";
import { reportingErrors, TaskInputError } from "./lib/errors";

interface ExportArgs {
  database: string;
  tenant: string;
  out: string;
}

async function run(args: ExportArgs): Promise<void> {
  const url = args.database === "env" ? process.env.DATABASE_URL : args.database;
  if (!url || !/^postgres(ql)?:\/\//.test(url)) throw new TaskInputError("--database: expected a postgres:// URL, or env with DATABASE_URL set");
  const db = await openDatabase({ target: { kind: "postgres", url }, applicationName: "meterline-export" });
  try {
    const manifest = await exportTenant(db.pool, args.tenant, path.resolve(args.out));
    for (const f of manifest.files) console.log(`${f.file.padEnd(24)} ${String(f.rows).padStart(9)} rows  sha256 ${f.sha256}`);
    console.log(`exported ${args.tenant} to ${path.resolve(args.out)} (manifest.json lists every file)`);
  } catch (err) {
    if (err instanceof TenantExportError) throw new TaskInputError(err.message);
    throw err;
  } finally {
    await db.close();
  }
}

task("meter:export-tenant", "Exports a tenant's off-chain data in full (configuration, billing documents, usage records, audit log, webhook endpoints without secrets)")
  .addParam("database", "The database: a postgres:// URL, or env for DATABASE_URL")
  .addParam("tenant", "The tenant's name (slug)")
  .addParam("out", "An empty or new directory to write into")
  .setAction(reportingErrors(run));
