import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { writeDurably } from "../reporter/journal";

/**
 * `<home>/stack.json`: what `npm run token` and the tour need from a running stack. It holds
 * the demo IdP's client secrets, so it is written owner-only; they are local demo credentials.
 */
export const stackStateSchema = z.object({
  rpc: z.string().url(),
  issuer: z.string().url(),
  graphql: z.string().url().nullable(),
  audience: z.string(),
  meter: z.string(),
  /** The InvoiceAnchor (absent on a chain recorded before the stack deployed one). */
  anchor: z.string().optional(),
  chainId: z.number(),
  pid: z.number(),
  clients: z.array(z.object({ tenant: z.string(), role: z.string(), clientId: z.string(), clientSecret: z.string() })),
  /** AES-256-GCM key (base64) for webhook signing secrets at rest; kept so stored secrets stay readable. */
  webhookKey: z.string().optional(),
});
export type StackState = z.infer<typeof stackStateSchema>;
export type DemoClient = StackState["clients"][number];

export const DEMO_ROLES = ["viewer", "operator", "admin", "auditor"] as const;

export function stackStatePath(home: string): string {
  return path.join(home, "stack.json");
}

export async function readStackState(home: string): Promise<StackState | undefined> {
  let text: string;
  try {
    text = await readFile(stackStatePath(home), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  const parsed = stackStateSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${stackStatePath(home)} is malformed: ${parsed.error.issues[0]!.message}`);
  return parsed.data;
}

export async function writeStackState(home: string, state: StackState): Promise<void> {
  await writeDurably(stackStatePath(home), state, 0o600);
}

/** The demo's webhook encryption key: the previous run's, or a new random one. */
export function demoWebhookKey(previous: StackState | undefined): string {
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
