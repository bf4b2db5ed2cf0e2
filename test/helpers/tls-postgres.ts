/**
 * A private PostgreSQL that accepts only TLS with client certificates (`hostssl … cert`), and the
 * throwaway certificate authority, server and client certificates it needs, made with openssl.
 */
import { execFileSync } from "node:child_process";
import { appendFileSync, chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startPrivatePostgres, type PrivatePostgres } from "../indexer/helpers/private-postgres";

export interface Certificates {
  dir: string;
  ca: string;
  clientCert: string;
  clientKey: string;
  /** A second CA that signed nothing here: verify-full against it must fail. */
  otherCa: string;
}

const openssl = (args: string[], cwd: string) => execFileSync("openssl", args, { cwd, stdio: "ignore" });

/** CA, a server certificate for 127.0.0.1/localhost, and a client certificate for `user`. */
export function makeCertificates(user: string): Certificates {
  const dir = mkdtempSync(path.join(os.tmpdir(), "meterline-tls-"));
  chmodSync(dir, 0o755);
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=meterline test CA", "-days", "2"], dir);
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.crt", "-subj", "/CN=someone else", "-days", "2"], dir);
  writeFileSync(path.join(dir, "server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"], dir);
  openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "server.ext"], dir);
  openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr", "-subj", `/CN=${user}`], dir);
  openssl(["x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "client.crt", "-days", "2"], dir);
  for (const f of ["ca.crt", "other.crt", "server.crt", "client.crt"]) chmodSync(path.join(dir, f), 0o644);
  chmodSync(path.join(dir, "client.key"), 0o600);
  return { dir, ca: path.join(dir, "ca.crt"), clientCert: path.join(dir, "client.crt"), clientKey: path.join(dir, "client.key"), otherCa: path.join(dir, "other.crt") };
}

/** Starts a private server with ssl=on that accepts only TLS connections authenticated by client certificate. */
export async function startTlsPostgres(certs: Certificates): Promise<PrivatePostgres> {
  return startPrivatePostgres({
    configure: (data) => {
      // Files in the data directory belong to the server's user; its key must be private.
      const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
      const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
      const put = (name: string, content: string | Buffer, mode: number) => {
        const file = path.join(data, name);
        writeFileSync(file, content, { mode });
        if (process.getuid?.() === 0) chownSync(file, uid, gid);
      };
      put("server.crt", readFileSync(path.join(certs.dir, "server.crt")), 0o644);
      put("server.key", readFileSync(path.join(certs.dir, "server.key")), 0o600);
      put("ca.crt", readFileSync(certs.ca), 0o644);
      appendFileSync(
        path.join(data, "postgresql.conf"),
        "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nssl_ca_file = 'ca.crt'\nssl_min_protocol_version = 'TLSv1.2'\n",
      );
      put("pg_hba.conf", "local all all trust\nhostssl all all 127.0.0.1/32 cert\n", 0o600);
    },
  });
}

/** `url` with libpq-style TLS parameters that node-postgres understands. */
export function tlsUrl(url: string, certs: Certificates, options: { ca?: string; withClientCert?: boolean; mode?: string } = {}): string {
  const u = new URL(url);
  u.searchParams.set("sslmode", options.mode ?? "verify-full");
  u.searchParams.set("sslrootcert", options.ca ?? certs.ca);
  if (options.withClientCert ?? true) {
    u.searchParams.set("sslcert", certs.clientCert);
    u.searchParams.set("sslkey", certs.clientKey);
  }
  return u.toString();
}

export function removeCertificates(certs: Certificates): void {
  rmSync(certs.dir, { recursive: true, force: true });
}
