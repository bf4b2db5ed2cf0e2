import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { z } from "zod";
import { stackFilePath, stackLocationSchema } from "../chain/local-stack";
import { writeDurably } from "../reporter/journal";

/**
 * `<home>/stack.json`: where the running stack is (the public part, chain/local-stack.ts, read by
 * the tasks and the reporter) plus what `npm run token` needs. It holds the demo IdP's client
 * secrets, so it is written owner-only; they are local demo credentials. A clean stop marks it
 * (`stoppedAt`) instead of deleting it, so the secrets, and tokens, survive a restart.
 */
export const stackStateSchema = stackLocationSchema.extend({
  audience: z.string(),
  meter: z.string(),
  /** The InvoiceAnchor (absent on a chain recorded before the stack deployed one). */
  anchor: z.string().optional(),
  clients: z.array(z.object({ tenant: z.string(), role: z.string(), clientId: z.string(), clientSecret: z.string() })),
  /** AES-256-GCM key (base64) for webhook signing secrets at rest; kept so stored secrets stay readable. */
  webhookKey: z.string().optional(),
  /** The dashboard: where it is served and the demo users' password (local demo credentials). */
  dashboard: z.object({ url: z.string().url(), password: z.string(), users: z.array(z.string()) }).optional(),
});
export type StackState = z.infer<typeof stackStateSchema>;
export type DemoClient = StackState["clients"][number];

export const DEMO_ROLES = ["viewer", "operator", "admin", "auditor"] as const;

export function stackStatePath(home: string): string {
  return stackFilePath(home);
}

/** As stored: a file written before `deploymentFile`/`startedAt` existed still yields its secrets. */
const storedStackStateSchema = stackStateSchema.partial({ deploymentFile: true, startedAt: true });
export type StoredStackState = z.infer<typeof storedStackStateSchema>;

/** The stored state, running or not (for its secrets); chain/local-stack.ts decides whether it runs. */
export async function readStackState(home: string): Promise<StoredStackState | undefined> {
  let text: string;
  try {
    text = await readFile(stackStatePath(home), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  const parsed = storedStackStateSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${stackStatePath(home)} is malformed: ${parsed.error.issues[0]!.message}`);
  return parsed.data;
}

export async function writeStackState(home: string, state: StackState): Promise<void> {
  await writeDurably(stackStatePath(home), state, 0o600);
}

/** After a clean stop: the file stays for its secrets, but no reader trusts it as running. */
export async function markStackStopped(home: string, state: StackState, at = new Date()): Promise<void> {
  await writeStackState(home, { ...state, stoppedAt: at.toISOString() });
}

/** The demo's webhook encryption key: the previous run's, or a new random one. */
export function demoWebhookKey(previous: Pick<StackState, "webhookKey"> | undefined): string {
  return previous?.webhookKey ?? randomBytes(32).toString("base64");
}

/** One client per (tenant, role); secrets are kept across restarts so tokens keep working. */
export function demoClients(tenants: readonly string[], previous: readonly DemoClient[] = []): DemoClient[] {
  const out: DemoClient[] = [];
  for (const tenant of tenants) {
    for (const role of DEMO_ROLES) {
      const old = previous.find((c) => c.tenant === tenant && c.role === role);
      out.push(old ?? { tenant, role, clientId: `${tenant}-${role}`, clientSecret: randomBytes(24).toString("base64url") });
    }
  }
  return out;
}

/** The demo users' password: the previous run's, or a new random one (printed by npm start; dev only). */
export function demoPassword(previous: Pick<StackState, "dashboard"> | undefined): string {
  return previous?.dashboard?.password ?? randomBytes(9).toString("base64url");
}

/** The platform operator of the demo: every platform role, acting on a tenant it names. */
export const DEMO_PLATFORM_USER = { username: "platform-admin", tenant: "platform", roles: ["platform:viewer", "platform:admin", "platform:billing", "platform:auditor"] };
