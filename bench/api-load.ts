/**
 * The load generator of `npm run bench:api`, run as its own OS process so it does not share the
 * API's event loop (or its process's CPU accounting). Reads its job as JSON on stdin (the token
 * stays out of the process list), runs autocannon, writes one JSON line to stdout:
 *   {"rps": <mean requests/s>, "p99_ms": <p99 latency>, "non2xx": <n>, "errors": <n>, "requests": <n>}
 * where errors counts failed requests and answers that differ from the expected body.
 */
import { z } from "zod";

const job = z.object({
  url: z.string().url(),
  headers: z.record(z.string()),
  body: z.string(),
  connections: z.number().int().positive(),
  durationS: z.number().positive(),
  /** Every response must be exactly this body (a GraphQL error under load answers 200 too). */
  expectBody: z.string().optional(),
});

/** The slice of autocannon used here (the package ships no type declarations). */
interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p99: number };
  non2xx: number;
  errors: number;
  mismatches: number;
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;
// A variable specifier keeps TypeScript from looking for declarations.
const AUTOCANNON = "autocannon";

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function main(): Promise<void> {
  const parsed = job.safeParse(JSON.parse(await readStdin()));
  if (!parsed.success) throw new Error(`bench/api-load: bad job: ${parsed.error.issues.map((i) => i.path.join(".")).join(", ")}`);
  const j = parsed.data;
  const autocannon = ((await import(AUTOCANNON)) as { default: Autocannon }).default;
  const result = await autocannon({
    url: j.url,
    method: "POST",
    headers: j.headers,
    body: j.body,
    connections: j.connections,
    duration: j.durationS,
    ...(j.expectBody !== undefined ? { expectBody: j.expectBody } : {}),
  });
  process.stdout.write(
    `${JSON.stringify({ rps: result.requests.average, p99_ms: result.latency.p99, non2xx: result.non2xx, errors: result.errors + result.mismatches, requests: result.requests.total })}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/api-load failed: ${(err as Error).message}\n`);
  process.exit(1);
});
