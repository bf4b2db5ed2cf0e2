import { expect } from "chai";
import { createHmac } from "node:crypto";
import { exportJWK, exportSPKI, generateKeyPair, importJWK, SignJWT, type JWTPayload, type JWK } from "jose";
import { AUDIENCE, startHarness, type ApiHarness } from "./fixtures";

const b64 = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

describe("api: access-token validation (RFC 8725 / RFC 9068 attacks)", function () {
  let h: ApiHarness;
  let good: JWTPayload;
  let kid: string;

  before(async function () {
    h = await startHarness({ JWKS_COOLDOWN_S: "0" });
    const token = await h.token("acme", "viewer");
    good = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as JWTPayload;
    kid = (JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString()) as { kid: string }).kid;
  });
  after(async () => h?.close());

  const now = () => Math.floor(Date.now() / 1000);
  const claims = (over: Record<string, unknown> = {}, drop: string[] = []): JWTPayload => {
    const c: Record<string, unknown> = { ...good, iat: now(), exp: now() + 600, jti: `j${Math.random()}`, ...over };
    for (const d of drop) delete c[d];
    return c as JWTPayload;
  };
  const idpSigned = (over: Record<string, unknown> = {}, drop: string[] = [], header: Record<string, unknown> = {}) =>
    h.idp.signWithIdpKey(claims(over, drop), header);

  // A genuine token whose protected header is rewritten (the signature then no longer matches).
  async function swapHeader(over: Record<string, unknown>): Promise<string> {
    const [head, payload, sig] = (await h.token("acme", "viewer")).split(".");
    const header = { ...(JSON.parse(Buffer.from(head!, "base64url").toString()) as object), ...over };
    return `${b64(header)}.${payload}.${sig}`;
  }

  async function foreignSigned(header: Record<string, unknown> = {}, alg = "ES256"): Promise<{ token: string; jwk: JWK }> {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    const jwk = await exportJWK(publicKey);
    const token = await new SignJWT(claims()).setProtectedHeader({ alg, typ: "at+jwt", kid, ...header }).sign(privateKey);
    return { token, jwk };
  }

  async function expect401(token: string | undefined, authorization?: string) {
    const res = await fetch(`${h.api.url}/graphql`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(authorization !== undefined ? { authorization } : token !== undefined ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify({ query: "{ viewer { subject } meters { id } }" }),
    });
    const text = await res.text();
    expect(res.status, text).to.equal(401);
    expect(text).to.not.contain("acme-meter");
    const body = JSON.parse(text) as { errors: { message: string; extensions: { code: string } }[] };
    // Generic: the reason never reaches the client.
    expect(body.errors[0]!.message).to.equal("Unauthorized.");
    expect(body.errors[0]!.extensions.code).to.equal("UNAUTHENTICATED");
    const www = res.headers.get("www-authenticate")!;
    expect(www).to.match(/^Bearer /);
    if (token !== undefined || authorization !== undefined) expect(www).to.contain('error="invalid_token"');
  }

  it("accepts a genuine token (control)", async function () {
    const res = await h.gql(await h.token("acme", "viewer"), "{ viewer { subject } }");
    expect(res.status).to.equal(200);
    expect(res.body.data).to.deep.equal({ viewer: { subject: "acme-viewer" } });
  });

  const attacks: [string, () => Promise<string | [undefined, string] | undefined>][] = [
    ["no token at all", async () => undefined],
    ["unsigned (alg none)", async () => `${b64({ alg: "none", typ: "at+jwt" })}.${b64(claims())}.`],
    ["alg none with a signature segment", async () => `${b64({ alg: "none", typ: "at+jwt", kid })}.${b64(claims())}.${b64("x")}`],
    [
      "HS256 with the IdP public key as HMAC secret (algorithm confusion)",
      async () => {
        const jwks = (await (await fetch(h.idp.jwksUri)).json()) as { keys: JWK[] };
        const pem = await exportSPKI((await importJWK(jwks.keys[0]!, "ES256", { extractable: true })) as never);
        const input = `${b64({ alg: "HS256", typ: "at+jwt", kid })}.${b64(claims())}`;
        return `${input}.${createHmac("sha256", pem).update(input).digest("base64url")}`;
      },
    ],
    ["signed by a foreign key with the IdP's kid", async () => (await foreignSigned()).token],
    [
      "foreign key embedded in a jwk header",
      async () => {
        const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
        const jwk = await exportJWK(publicKey);
        return new SignJWT(claims()).setProtectedHeader({ alg: "ES256", typ: "at+jwt", jwk }).sign(privateKey);
      },
    ],
    ["jku header pointing at an attacker JWKS", async () => (await foreignSigned({ jku: "http://127.0.0.1:1/jwks.json" })).token],
    ["x5u header pointing at an attacker certificate", async () => (await foreignSigned({ x5u: "http://127.0.0.1:1/cert.pem" })).token],
    ["x5c header carrying a certificate", async () => idpSigned({}, [], { x5c: ["MIIB"] })],
    ["kid path traversal / injection with a foreign key", async () => (await foreignSigned({ kid: "../../../../dev/null' OR '1'='1" })).token],
    ["expired", async () => idpSigned({ exp: now() - 120, iat: now() - 600 })],
    ["not yet valid (nbf in the future)", async () => idpSigned({ nbf: now() + 600 })],
    ["issued in the future (iat)", async () => idpSigned({ iat: now() + 600, exp: now() + 1200 })],
    ["too old (iat beyond the maximum token age)", async () => idpSigned({ iat: now() - 7200, exp: now() + 600 })],
    ["wrong issuer", async () => idpSigned({ iss: "https://evil.example" })],
    ["wrong audience", async () => idpSigned({ aud: "https://other-api.example" })],
    ["audience list without ours", async () => idpSigned({ aud: ["https://a.example", "https://b.example"] })],
    ["wrong typ (JWT id token style)", async () => idpSigned({}, [], { typ: "JWT" })],
    ["missing typ", async () => idpSigned({}, [], { typ: undefined })],
    ["missing sub", async () => idpSigned({}, ["sub"])],
    ["missing tenant claim", async () => idpSigned({}, ["tenant_id"])],
    ["empty tenant claim", async () => idpSigned({ tenant_id: "" })],
    ["missing exp", async () => idpSigned({}, ["exp"])],
    ["missing iat", async () => idpSigned({}, ["iat"])],
    ["malformed: two segments", async () => `${b64({ alg: "ES256" })}.${b64(claims())}`],
    ["malformed: five segments (JWE shape)", async () => `${b64({ alg: "RSA-OAEP", enc: "A256GCM" })}.a.b.c.d`],
    ["malformed: header not JSON", async () => `${b64("not json")}.${b64(claims())}.${b64("sig")}`],
    ["malformed: payload not JSON", async () => `${b64({ alg: "ES256", typ: "at+jwt", kid })}.${b64("garbage")}.${b64("sig")}`],
    [
      "bad signature (tampered payload)",
      async () => {
        const t = await h.token("acme", "viewer");
        const [head, , sig] = t.split(".");
        return `${head}.${b64(claims({ tenant_id: "globex", roles: ["admin"] }))}.${sig}`;
      },
    ],
    [
      "bad signature (flipped bits)",
      async () => {
        const t = await h.token("acme", "viewer");
        const sig = t.split(".")[2]!;
        const flipped = (sig[5] === "A" ? "B" : "A") + "";
        return `${t.split(".").slice(0, 2).join(".")}.${sig.slice(0, 5)}${flipped}${sig.slice(6)}`;
      },
    ],
    ["ES384 when only ES256/RS256 are allowed", async () => (await foreignSigned({}, "ES384")).token],
    ["alg swapped to RS256 over an ES256 signature", async () => swapHeader({ alg: "RS256" })],
    ["crit header with an unknown extension", async () => swapHeader({ crit: ["exp-ext"], "exp-ext": 1 })],
    ["Basic scheme instead of Bearer", async () => [undefined, `Basic ${Buffer.from("acme-viewer:secret-acme-viewer").toString("base64")}`]],
    ["two tokens in one header", async () => [undefined, `Bearer ${await h.token("acme", "viewer")} ${await h.token("acme", "admin")}`]],
    ["platform tenant header without the platform role", async () => [undefined, "__platform__"]],
  ];

  for (const [name, make] of attacks) {
    it(`rejects with 401: ${name}`, async function () {
      const made = await make();
      if (Array.isArray(made)) {
        if (made[1] === "__platform__") {
          const res = await h.gql(await h.token("acme", "admin"), "{ viewer { subject } }", {}, { "meterline-tenant": "globex" });
          expect(res.status).to.equal(401);
          return;
        }
        return expect401(undefined, made[1]);
      }
      return expect401(made);
    });
  }

  it("counts failures by reason in /metrics without exposing tokens", async function () {
    const text = await (await fetch(`${h.api.metricsUrl}/metrics`)).text();
    for (const reason of ["missing_token", "malformed", "header_key_injection", "algorithm", "token_type", "signature", "expired", "not_yet_valid", "issued_in_future", "too_old", "issuer", "audience", "missing_claim", "tenant"]) {
      expect(text, reason).to.match(new RegExp(`meterline_api_auth_failures_total\\{reason="${reason}"\\} [1-9]`));
    }
    expect(text).to.not.match(/eyJ[A-Za-z0-9_-]{10,}/);
  });

  it("follows key rotation at the IdP (new kid fetched from the JWKS)", async function () {
    await h.idp.rotateKey();
    const fresh = await h.idp.getToken("acme-viewer", "secret-acme-viewer");
    const res = await h.gql(fresh, "{ viewer { subject } }");
    expect(res.status).to.equal(200);
    // Tokens signed by the previous key stay valid while it is published.
    expect((await h.gql(await h.token("acme", "viewer"), "{ viewer { subject } }")).status).to.equal(200);
  });

  it("audience of our IdP tokens is the configured one", function () {
    expect(good.aud).to.equal(AUDIENCE);
  });
});
