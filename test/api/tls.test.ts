import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request } from "node:https";
import { connect, type SecureVersion } from "node:tls";
import { ConfigError, parseApiConfig } from "../../api/config";
import { tmpdir } from "node:os";
import path from "node:path";
import { startHarness, type ApiHarness } from "./fixtures";

describe("api: optional TLS", function () {
  let h: ApiHarness;
  let dir: string;
  let cert: Buffer;

  before(async function () {
    dir = mkdtempSync(path.join(tmpdir(), "meterline-api-tls-"));
    // A throwaway self-signed certificate for 127.0.0.1, made for this run only.
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem"), "-days", "1",
      "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
    ], { stdio: "ignore" });
    cert = readFileSync(path.join(dir, "cert.pem"));
    h = await startHarness({ TLS_CERT_FILE: path.join(dir, "cert.pem"), TLS_KEY_FILE: path.join(dir, "key.pem"), HTTP_REDIRECT_PORT: "0" });
  });
  after(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves HTTPS with the configured certificate", async function () {
    expect(h.api.url).to.match(/^https:\/\//);
    const token = await h.token("acme", "viewer");
    const body = JSON.stringify({ query: "{ viewer { subject } }" });
    const text = await new Promise<string>((resolve, reject) => {
      const req = request(
        `${h.api.url}/graphql`,
        { method: "POST", ca: cert, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), authorization: `Bearer ${token}` } },
        (res) => {
          let out = "";
          res.on("data", (c: Buffer) => (out += c.toString()));
          res.on("end", () => resolve(`${res.statusCode} ${res.headers["strict-transport-security"]} ${out}`));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
    expect(text).to.equal('200 max-age=31536000; includeSubDomains {"data":{"viewer":{"subject":"acme-viewer"}}}');
  });

  /** The protocol a handshake agreed, or the error code that ended it. */
  function handshake(url: string, versions: { minVersion: SecureVersion; maxVersion: SecureVersion }): Promise<string> {
    const { port } = new URL(url);
    return new Promise((resolve) => {
      // SECLEVEL=0 lets this client offer TLS 1.0/1.1 at all, so a refusal is the server's.
      const socket = connect({ host: "127.0.0.1", port: Number(port), ca: cert, ciphers: "DEFAULT@SECLEVEL=0", ...versions });
      socket.once("secureConnect", () => {
        resolve(socket.getProtocol() ?? "none");
        socket.destroy();
      });
      socket.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
  }

  it("refuses a client that speaks at most TLS 1.1 (TLS_MIN_VERSION defaults to TLSv1.2)", async function () {
    expect(await handshake(h.api.url, { minVersion: "TLSv1", maxVersion: "TLSv1.1" })).to.equal("ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION");
    expect(await handshake(h.api.url, { minVersion: "TLSv1.2", maxVersion: "TLSv1.2" })).to.equal("TLSv1.2");
  });

  it("TLS_MIN_VERSION=TLSv1.3 refuses a TLS 1.2 client", async function () {
    const strict = await startHarness({ TLS_CERT_FILE: path.join(dir, "cert.pem"), TLS_KEY_FILE: path.join(dir, "key.pem"), TLS_MIN_VERSION: "TLSv1.3" });
    try {
      expect(await handshake(strict.api.url, { minVersion: "TLSv1.2", maxVersion: "TLSv1.2" })).to.equal("ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION");
      expect(await handshake(strict.api.url, { minVersion: "TLSv1.3", maxVersion: "TLSv1.3" })).to.equal("TLSv1.3");
    } finally {
      await strict.close();
    }
  });

  it("HTTP_REDIRECT_PORT answers every request with 301 to the same path over https, and runs no GraphQL", async function () {
    const httpsPort = new URL(h.api.url).port;
    const get = await fetch(`${h.api.redirectUrl}/graphql?query=%7Bviewer%7Bsubject%7D%7D`, { redirect: "manual" });
    expect(get.status).to.equal(301);
    expect(get.headers.get("location")).to.equal(`https://127.0.0.1:${httpsPort}/graphql?query=%7Bviewer%7Bsubject%7D%7D`);
    expect(await get.text()).to.equal("");
    const token = await h.token("acme", "platform:admin");
    const before = await h.db.pool.query("SELECT count(*) FROM audit_log");
    const post = await fetch(`${h.api.redirectUrl}/graphql`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}`, "meterline-tenant": "acme" },
      body: JSON.stringify({ query: 'mutation { createPlan(input: { name: "over-http" }) { id } }' }),
    });
    expect(post.status).to.equal(301);
    expect(await post.text()).to.equal("");
    // Not even the platform request's audit row: nothing reached the API.
    expect((await h.db.pool.query("SELECT count(*) FROM audit_log")).rows).to.deep.equal(before.rows);
    for (const p of ["/healthz", "/readyz", "/metrics"]) expect((await fetch(`${h.api.redirectUrl}${p}`, { redirect: "manual" })).status).to.equal(301);
  });

  it("the redirect refuses a malformed Host with 400", async function () {
    const { port } = new URL(h.api.redirectUrl!);
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: "127.0.0.1", port: Number(port), path: "/graphql", headers: { host: "evil.example/@x" } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end();
    });
    expect(status).to.equal(400);
  });

  it("names TLS_MIN_VERSION and HTTP_REDIRECT_PORT when they are wrong", function () {
    const base = { OIDC_ISSUER: "https://idp.example", OIDC_AUDIENCE: "x", TLS_CERT_FILE: path.join(dir, "cert.pem"), TLS_KEY_FILE: path.join(dir, "key.pem") };
    expect(() => parseApiConfig({ ...base, TLS_MIN_VERSION: "TLSv1.1" })).to.throw(ConfigError, /^TLS_MIN_VERSION: TLSv1\.2 or TLSv1\.3/);
    expect(() => parseApiConfig({ OIDC_ISSUER: "https://idp.example", OIDC_AUDIENCE: "x", HTTP_REDIRECT_PORT: "8080" })).to.throw(ConfigError, /^HTTP_REDIRECT_PORT: .*needs TLS_CERT_FILE/);
    expect(parseApiConfig(base).tls?.minVersion).to.equal("TLSv1.2");
  });
});
