/**
 * `npm run token -- --tenant acme --role viewer`: prints a demo access token from the local IdP
 * of the running `npm start` (issuer and client secrets come from <METERLINE_HOME>/stack.json).
 */
import { parseArgs } from "node:util";
import { fetchClientCredentialsToken } from "./local-idp";
import { findRunningStack, stackFilePath } from "../chain/local-stack";
import { parseStackConfig, StackConfigError } from "./config";
import { DEMO_ROLES, readStackState } from "./state";

async function main(): Promise<number> {
  const usage = `usage: npm run token -- --tenant <slug> --role <${DEMO_ROLES.join("|")}>`;
  let values: { tenant?: string; role?: string; home?: string };
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2),
      options: { tenant: { type: "string" }, role: { type: "string" }, home: { type: "string" } },
    }));
  } catch (err) {
    console.error(`token: ${(err as Error).message}\n${usage}`);
    return 2;
  }
  const { tenant, role } = values;
  if (!tenant || !role) {
    console.error(`token: --tenant and --role are required\n${usage}`);
    return 2;
  }
  let home: string;
  try {
    home = parseStackConfig(process.env, values.home ? ["--home", values.home] : []).home;
  } catch (err) {
    if (!(err instanceof StackConfigError)) throw err;
    console.error(`token: ${err.message}`);
    return 2;
  }
  // The issuer comes from the stack that runs from this home, never from a stopped one's record.
  const running = findRunningStack(home);
  const state = running.kind === "running" ? await readStackState(home) : undefined;
  if (running.kind !== "running" || !state) {
    const why = running.kind === "absent" ? running.why : `no ${stackFilePath(home)}`;
    console.error(`token: no running Meterline stack (${why}): start one with npm start, or set METERLINE_HOME (or --home) to its home`);
    return 1;
  }
  const client = state.clients.find((c) => c.tenant === tenant && c.role === role);
  if (!client) {
    const tenants = [...new Set(state.clients.map((c) => c.tenant))].join(", ");
    console.error(`token: no demo client for tenant "${tenant}" and role "${role}" (tenants: ${tenants}; roles: ${DEMO_ROLES.join(", ")})`);
    return 2;
  }
  try {
    const token = await fetchClientCredentialsToken({
      issuer: state.issuer,
      clientId: client.clientId,
      clientSecret: client.clientSecret,
      audience: state.audience,
    });
    process.stdout.write(`${token}\n`);
    return 0;
  } catch (err) {
    console.error(`token: cannot reach the local IdP at ${state.issuer} (is npm start running?): ${(err as Error).message}`);
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
