import { task } from "hardhat/config";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { databaseAuditSections } from "../audit";
import { auditChain, auditReportToJson, renderAuditReport, reportStatus, type AuditReport } from "../audit/chain-audit";
import { abiHash } from "../../chain/deployment";
import { invoiceAnchorAbi, usageMeterAbi } from "../../chain/abi.generated";
import { auditAnchor, auditAnchoring } from "../audit/anchor-audit";
import { openDatabase } from "../../db/connection";
import { EXIT, reportingErrors, TaskInputError } from "./lib/errors";
import { openMeter } from "./lib/meter-context";
import { parseParam, uintSchema } from "./lib/params";

interface AuditArgs {
  json: boolean;
  block?: string;
  database?: string;
  production: boolean;
}

/**
 * Builds the report from its sections (append a section here to audit another source, e.g. the
 * indexer's database), prints it, and exits 1 when any item needs attention.
 */
async function audit(args: AuditArgs, hre: HardhatRuntimeEnvironment): Promise<AuditReport> {
  const block = args.block === undefined ? undefined : Number(parseParam("block", uintSchema(BigInt(Number.MAX_SAFE_INTEGER)), args.block));
  const { deployment } = await openMeter(hre);
  if (block !== undefined) {
    const head = await hre.ethers.provider.getBlockNumber();
    if (block > head) throw new TaskInputError(`--block: ${block} is beyond the chain head ${head}`);
    if (block < deployment.deployBlock) {
      throw new TaskInputError(`--block: ${block} is before the deploy block ${deployment.deployBlock}`);
    }
  }
  const report = await auditChain({
    provider: hre.ethers.provider,
    deployment,
    ...(block !== undefined ? { blockTag: block } : {}),
    expectedAbiHash: abiHash(usageMeterAbi),
    ...(args.production ? { production: true } : {}),
  });
  if (deployment.anchor) report.sections.push(await auditAnchor(hre.ethers.provider, deployment.anchor, report.block.number, abiHash(invoiceAnchorAbi)));
  if (args.database !== undefined) {
    // "env" rather than a silent DATABASE_URL default: CI exports DATABASE_URL for every test.
    const url = args.database === "env" ? process.env.DATABASE_URL : args.database;
    if (!url || !/^postgres(ql)?:\/\//.test(url)) throw new TaskInputError("--database: expected a postgres:// URL, or env with DATABASE_URL set");
    report.sections.push(...(await databaseAuditSections(url, hre.network.provider)));
    if (deployment.anchor) {
      const db = await openDatabase({ target: { kind: "postgres", url }, maxConnections: 1, applicationName: "meterline-audit" });
      try {
        report.sections.push(await auditAnchoring(db.pool, hre.ethers.provider, deployment.anchor, report.block.number));
      } finally {
        await db.close();
      }
    }
  }
  console.log(args.json ? auditReportToJson(report) : renderAuditReport(report));
  if (reportStatus(report) === "attention") process.exitCode = EXIT.failed;
  return report;
}

task("meter:audit", "Audits UsageMeter from chain state: roles, admin transfer, pause, commitments, usage totals, and InvoiceAnchor's roles and pause; exit 1 when something needs attention")
  .addFlag("json", "Print the report as JSON")
  .addFlag("production", "Judge access control by production rules on a local chain id too (rehearsing on a fork)")
  .addOptionalParam("block", "Audit as of this block number (default: latest)")
  .addOptionalParam("database", "Also reconcile the indexer's database with the chain: a postgres:// URL, or env for DATABASE_URL")
  .setAction(reportingErrors(audit));
