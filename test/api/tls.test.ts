import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
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
    h = await startHarness({ TLS_CERT_FILE: path.join(dir, "cert.pem"), TLS_KEY_FILE: path.join(dir, "key.pem") });
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
});
