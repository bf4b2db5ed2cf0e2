/**
 * Port conflicts as one line naming the setting to change, instead of an unhandled `listen
 * EADDRINUSE` (or, for Hardhat's JSON-RPC server, which never rejects its listen promise, a
 * WebSocketServer crash). Checked before a process binds, and when a bind fails.
 */
import { createServer } from "node:net";

export class PortInUseError extends Error {
  override name = "PortInUseError";
}

/** The one line for a listen error on `port`, or undefined when `err` is not about the port. */
export function portErrorLine(err: unknown, port: number, variable: string): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === "EADDRINUSE") return `port ${port} is in use: set ${variable} to a free port (0 picks one)`;
  if (code === "EACCES") return `port ${port} needs privileges to bind: set ${variable} to a port above 1023`;
  if (code === "EADDRNOTAVAIL") return `cannot bind port ${port}: the host address is not on this machine`;
  return undefined;
}

/** Resolves when `host:port` can be bound right now (0 always can); throws PortInUseError otherwise. */
export async function assertPortFree(host: string, port: number, variable: string): Promise<void> {
  if (port === 0) return;
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ port, host, exclusive: true }, () => resolve());
    });
  } catch (err) {
    const line = portErrorLine(err, port, variable);
    if (line) throw new PortInUseError(line, { cause: err });
    throw err;
  } finally {
    await new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
  }
}

/** Checks several ports; the first conflict wins (each names its own variable). */
export async function assertPortsFree(host: string, ports: ReadonlyArray<{ port: number; variable: string }>): Promise<void> {
  for (const p of ports) await assertPortFree(host, p.port, p.variable);
}
