/**
 * `npm run --silent where [-- <field>] [--home DIR]`: where the running `npm start` stack is, from
 * <METERLINE_HOME>/stack.json, so the tour's commands work on whatever ports it runs:
 * `curl "$(npm run --silent where -- graphql)"`. Without a field: the public part as JSON (never
 * the demo client secrets). Exit 1 with one line when no stack runs from that home.
 */
import { parseArgs } from "node:util";
import { findRunningStack } from "../chain/local-stack";
import { findDeploymentFile } from "../chain/deployment";
import { parseStackConfig, StackConfigError } from "./config";

const FIELDS = ["rpc", "graphql", "issuer", "chainId", "deploymentFile", "meter", "anchor", "home", "pid"] as const;
type Field = (typeof FIELDS)[number];

function main(): number {
  const usage = `usage: npm run --silent where -- [${FIELDS.join("|")}] [--home DIR]`;
  let field: string | undefined;
  let home: string;
  try {
    const { values, positionals } = parseArgs({ args: process.argv.slice(2), allowPositionals: true, options: { home: { type: "string" } } });
    field = positionals[0];
    home = parseStackConfig(process.env, values.home ? ["--home", values.home] : []).home;
  } catch (err) {
    console.error(`where: ${err instanceof StackConfigError ? err.message : (err as Error).message}\n${usage}`);
    return 2;
  }
  if (field !== undefined && !(FIELDS as readonly string[]).includes(field)) {
    console.error(`where: unknown field "${field}"\n${usage}`);
    return 2;
  }
  const found = findRunningStack(home);
  if (found.kind !== "running") {
    console.error(`where: no running Meterline stack (${found.why}): start one with npm start, or set METERLINE_HOME (or --home) to its home`);
    return 1;
  }
  const s = found.stack;
  const deployment = findDeploymentFile(s.deploymentFile, s.chainId);
  const meter = deployment?.address ?? null;
  const anchor = deployment?.anchor?.address ?? null;
  const values: Record<Field, string | number | null> = {
    rpc: s.rpc,
    graphql: s.graphql,
    issuer: s.issuer,
    chainId: s.chainId,
    deploymentFile: s.deploymentFile,
    meter,
    anchor,
    home,
    pid: s.pid,
  };
  process.stdout.write(field ? `${values[field as Field] ?? ""}\n` : `${JSON.stringify({ ...values, startedAt: s.startedAt }, null, 2)}\n`);
  return 0;
}

process.exitCode = main();
