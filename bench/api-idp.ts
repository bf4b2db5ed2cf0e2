/**
 * The OpenID provider of `npm run bench:api`, run as its own OS process as a production IdP would
 * be: oidc-provider runs every request inside an AsyncLocalStorage, and that turns on Node's
 * promise hooks for the whole process that hosts it, which would bill the API for a cost it does
 * not have in production. Reads its job as one JSON line on stdin (the client secret stays out of
 * the process list), writes one JSON line to stdout: {"issuer": <url>, "token": <access token>},
 * and serves discovery and JWKS until its stdin ends.
 */
import { createInterface } from "node:readline";
import { z } from "zod";
import { startLocalIdp } from "../stack/local-idp";

const job = z.object({
  client: z.object({ clientId: z.string(), clientSecret: z.string(), tenant: z.string(), roles: z.array(z.string()) }),
  audience: z.string().url(),
});

async function main(): Promise<void> {
  const lines = createInterface({ input: process.stdin });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once("line", resolve);
    lines.once("close", () => reject(new Error("bench/api-idp: no job on stdin")));
  });
  const parsed = job.safeParse(JSON.parse(first));
  if (!parsed.success) throw new Error(`bench/api-idp: bad job: ${parsed.error.issues.map((i) => i.path.join(".")).join(", ")}`);
  const { client, audience } = parsed.data;
  const idp = await startLocalIdp({ clients: [client], audience });
  const token = await idp.getToken(client.clientId, client.clientSecret);
  process.stdout.write(`${JSON.stringify({ issuer: idp.issuer, token })}\n`);
  lines.once("close", () => {
    idp.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/api-idp failed: ${(err as Error).message}\n`);
  process.exit(1);
});
