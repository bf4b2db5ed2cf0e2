import { expect } from "chai";
import { startClaimShapeIdp, type ClaimShapeIdp } from "./claim-shape-idp";
import { AUDIENCE, startHarness, type ApiHarness, type GqlBody } from "./fixtures";

const KC_AUDIENCE = "https://kc.api.meterline.test";
const A0_AUDIENCE = "https://a0.api.meterline.test";

const CREATE = `mutation($input: IdentityProviderInput!) { createIdentityProvider(input: $input) { id issuer audience jwksUri algorithms tokenTypes tenantClaim rolesClaim } }`;
const UPDATE = `mutation($id: ID!, $input: IdentityProviderInput!) { updateIdentityProvider(id: $id, input: $input) { id audience } }`;
const BIND = `mutation($id: ID!) { bindIdentityProvider(id: $id) { id issuer } }`;
const WHOAMI = "{ viewer { subject roles platform tenant { slug } } }";

describe("api: each tenant's own identity provider", function () {
  this.timeout(60_000);
  let h: ApiHarness;
  let kc: ClaimShapeIdp; // Keycloak-style: roles in realm_access.roles
  let a0: ClaimShapeIdp; // Auth0-style: namespaced claims
  let rogue: ClaimShapeIdp; // never registered
  const ids: { kc?: string; a0?: string } = {};

  before(async () => {
    h = await startHarness();
    kc = await startClaimShapeIdp({
      audience: KC_AUDIENCE,
      clients: {
        "kc-acme-admin": { tenant: "acme", realm_access: { roles: ["admin", "offline_access"] } },
        "kc-globex-admin": { tenant: "globex", realm_access: { roles: ["admin"] } },
        "kc-acme-platform": { tenant: "acme", realm_access: { roles: ["platform:admin", "platform:viewer", "viewer"] } },
      },
    });
    a0 = await startClaimShapeIdp({
      audience: A0_AUDIENCE,
      algorithm: "RS256",
      clients: {
        "a0-globex-viewer": { "https://example.com/tenant": "globex", "https://example.com/roles": ["viewer"] },
        "a0-acme-admin": { "https://example.com/tenant": "acme", "https://example.com/roles": ["admin"] },
      },
    });
    rogue = await startClaimShapeIdp({ audience: AUDIENCE, clients: { "rogue-acme-admin": { tenant_id: "acme", roles: ["admin"] } } });
  });
  after(async () => {
    await kc?.close();
    await a0?.close();
    await rogue?.close();
    await h?.close();
  });

  const platform = async (role: "platform:admin" | "platform:viewer", tenant: string, query: string, variables: Record<string, unknown> = {}) =>
    h.gql(await h.token("acme", role), query, variables, { "meterline-tenant": tenant });
  const whoami = async (token: string) => h.gql(token, WHOAMI);
  const kcInput = () => ({ issuer: kc.issuer, audience: KC_AUDIENCE, jwksUri: kc.jwksUri, tenantClaim: "tenant", rolesClaim: "realm_access.roles", algorithms: ["ES256"] });
  const a0Input = () => ({ issuer: a0.issuer, audience: A0_AUDIENCE, jwksUri: a0.jwksUri, tenantClaim: "https://example.com/tenant", rolesClaim: "https://example.com/roles", algorithms: ["RS256"], tokenTypes: ["at+jwt", "JWT"] });
  const auditRows = async (tenant: string, action: string) =>
    (
      await h.db.pool.query<{ subject: string; platform: boolean; entity_id: string; changes: { before: unknown; after: unknown } }>(
        "SELECT subject, platform, entity_id, changes FROM audit_log WHERE tenant_id = $1 AND action = $2 ORDER BY id",
        [h.tenantIds[tenant as "acme" | "globex"], action],
      )
    ).rows;
  const refusedCode = (body: GqlBody) => body.errors?.[0]?.extensions?.code;

  it("before any binding, the default provider serves every tenant", async function () {
    expect((await whoami(await h.token("acme", "admin"))).body.data).to.deep.equal({ viewer: { subject: "acme-admin", roles: ["ADMIN"], platform: false, tenant: { slug: "acme" } } });
  });

  it("platform:admin registers providers, audited in the named tenant's log with the whole configuration", async function () {
    const created = await platform("platform:admin", "acme", CREATE, { input: kcInput() });
    expect(created.body.errors).to.equal(undefined);
    const kcNode = created.body.data!.createIdentityProvider as { id: string; tokenTypes: string[] };
    expect(kcNode.tokenTypes).to.deep.equal(["at+jwt"]);
    ids.kc = kcNode.id;
    const created2 = await platform("platform:admin", "globex", CREATE, { input: a0Input() });
    ids.a0 = (created2.body.data!.createIdentityProvider as { id: string }).id;
    const rows = await auditRows("acme", "identity_provider.create");
    expect(rows).to.have.length(1);
    expect(rows[0]!).to.deep.include({ subject: "acme-platform-admin", platform: true });
    expect(rows[0]!.changes).to.deep.equal({
      before: null,
      after: { id: rows[0]!.entity_id, issuer: kc.issuer, audience: KC_AUDIENCE, jwksUri: kc.jwksUri, algorithms: ["ES256"], tokenTypes: ["at+jwt"], tenantClaim: "tenant", rolesClaim: "realm_access.roles" },
    });
    expect(await auditRows("globex", "identity_provider.create")).to.have.length(1);
  });

  it("a registered provider's tokens act for no tenant until one is bound to it", async function () {
    expect((await whoami(await kc.token("kc-acme-admin"))).status).to.equal(401);
  });

  it("bound to the Keycloak-style provider, acme is served by its tokens (realm_access.roles)", async function () {
    const bound = await platform("platform:admin", "acme", BIND, { id: ids.kc });
    expect(bound.body.data).to.deep.equal({ bindIdentityProvider: { id: ids.kc, issuer: kc.issuer } });
    const res = await whoami(await kc.token("kc-acme-admin"));
    expect(res.status).to.equal(200);
    expect(res.body.data).to.deep.equal({ viewer: { subject: "kc-acme-admin", roles: ["ADMIN"], platform: false, tenant: { slug: "acme" } } });
    const rows = await auditRows("acme", "identity_provider.bind");
    const { rows: db } = await h.db.pool.query<{ id: string }>("SELECT id::text FROM identity_providers WHERE issuer = $1", [kc.issuer]);
    expect(rows.map((r) => r.changes)).to.deep.equal([{ before: { identityProvider: "default" }, after: { identityProvider: { id: db[0]!.id, ...kcInput(), tokenTypes: ["at+jwt"] } } }]);
  });

  it("bound to the Auth0-style provider, globex is served by its tokens (namespaced claims, RS256)", async function () {
    await platform("platform:admin", "globex", BIND, { id: ids.a0 });
    const res = await whoami(await a0.token("a0-globex-viewer"));
    expect(res.body.data).to.deep.equal({ viewer: { subject: "a0-globex-viewer", roles: ["VIEWER"], platform: false, tenant: { slug: "globex" } } });
    // Data comes from the tenant the token names, as ever.
    const meters = await h.gql(await a0.token("a0-globex-viewer"), "{ meters { name } }");
    expect((meters.body.data!.meters as { name: string }[]).map((m) => m.name)).to.deep.equal(["globex-meter-1", "globex-meter-2"]);
  });

  it("a token from one issuer never acts for a tenant bound to another", async function () {
    const attempts: [string, string][] = [
      ["Keycloak-style token naming globex (bound to the Auth0-style provider)", await kc.token("kc-globex-admin")],
      ["Auth0-style token naming acme (bound to the Keycloak-style provider)", await a0.token("a0-acme-admin")],
      ["default provider's token for acme", await h.token("acme", "admin")],
      ["default provider's token for globex", await h.token("globex", "viewer")],
      ["an unregistered issuer's token", await rogue.token("rogue-acme-admin")],
    ];
    for (const [name, token] of attempts) {
      const res = await whoami(token);
      expect(res.status, name).to.equal(401);
      expect(res.body.data, name).to.equal(undefined);
    }
    const metrics = await (await fetch(`${h.api.metricsUrl}/metrics`)).text();
    expect(metrics).to.match(/meterline_api_auth_failures_total\{reason="issuer_tenant"\} [4-9]/);
    expect(metrics).to.match(/meterline_api_auth_failures_total\{reason="issuer"\} [1-9]/);
  });

  it("a tenant's provider grants no platform role, with or without Meterline-Tenant", async function () {
    const token = await kc.token("kc-acme-platform");
    expect((await h.gql(token, WHOAMI, {}, { "meterline-tenant": "globex" })).status).to.equal(401);
    expect((await h.gql(token, WHOAMI, {}, { "meterline-tenant": "acme" })).status).to.equal(401);
    expect((await whoami(token)).body.data).to.deep.equal({ viewer: { subject: "kc-acme-platform", roles: ["VIEWER"], platform: false, tenant: { slug: "acme" } } });
  });

  it("platform operators (default provider) still act on a bound tenant, audited", async function () {
    const res = await platform("platform:viewer", "globex", "{ viewer { platform tenant { slug } } tenantIdentityProvider { issuer } identityProviders { issuer } }");
    expect(res.body.data).to.deep.equal({
      viewer: { platform: true, tenant: { slug: "globex" } },
      tenantIdentityProvider: { issuer: a0.issuer },
      identityProviders: [{ issuer: kc.issuer }, { issuer: a0.issuer }],
    });
  });

  it("bad input is refused naming the field, and writes nothing", async function () {
    const before = await h.db.pool.query("SELECT (SELECT count(*) FROM identity_providers) AS p, (SELECT count(*) FROM audit_log WHERE action LIKE 'identity_provider.%') AS a");
    const cases: [Record<string, unknown>, string, string][] = [
      [{ issuer: "not a url" }, "BAD_USER_INPUT", "input.issuer"],
      [{ issuer: `${h.idp.issuer}/` }, "BAD_USER_INPUT", "input.issuer"],
      [{ issuer: "https://user:pw@idp.example" }, "BAD_USER_INPUT", "input.issuer"],
      [{ issuer: "https://idp3.example", jwksUri: "ftp://idp3.example/jwks" }, "BAD_USER_INPUT", "input.jwksUri"],
      [{ issuer: "https://idp3.example", algorithms: ["ES256", "HS256"] }, "BAD_USER_INPUT", "input.algorithms.1"],
      [{ issuer: "https://idp3.example", algorithms: ["none"] }, "BAD_USER_INPUT", "input.algorithms.0"],
      [{ issuer: "https://idp3.example", tokenTypes: ["id+jwt"] }, "BAD_USER_INPUT", "input.tokenTypes.0"],
      [{ issuer: "https://idp3.example", tenantClaim: "a..b" }, "BAD_USER_INPUT", "input.tenantClaim"],
      [{ issuer: "https://idp3.example", audience: " " }, "BAD_USER_INPUT", "input.audience"],
      [{}, "CONFLICT", ""],
    ];
    for (const [patch, code, field] of cases) {
      const res = await platform("platform:admin", "acme", CREATE, { input: { ...kcInput(), ...patch } });
      expect(refusedCode(res.body), JSON.stringify(patch)).to.equal(code);
      if (field) expect(res.body.errors![0]!.message, JSON.stringify(patch)).to.match(new RegExp(`^${field.replace(/\./g, "\\.")}: `));
    }
    const after = await h.db.pool.query("SELECT (SELECT count(*) FROM identity_providers) AS p, (SELECT count(*) FROM audit_log WHERE action LIKE 'identity_provider.%') AS a");
    expect(after.rows).to.deep.equal(before.rows);
  });

  it("only platform:admin manages providers", async function () {
    const input = { ...kcInput(), issuer: "https://idp4.example" };
    expect(refusedCode((await platform("platform:viewer", "acme", CREATE, { input })).body)).to.equal("FORBIDDEN");
    expect(refusedCode((await h.gql(await kc.token("kc-acme-admin"), CREATE, { input })).body)).to.equal("FORBIDDEN");
    expect(refusedCode((await h.gql(await kc.token("kc-acme-admin"), BIND, { id: ids.a0 })).body)).to.equal("FORBIDDEN");
    expect(refusedCode((await h.gql(await kc.token("kc-acme-admin"), "{ identityProviders { issuer } }")).body)).to.equal("FORBIDDEN");
  });

  it("a change is audited with before and after and applies at once", async function () {
    const wrongAudience = await platform("platform:admin", "globex", UPDATE, { id: ids.a0, input: { ...a0Input(), audience: "https://elsewhere.example" } });
    expect(wrongAudience.body.data).to.deep.equal({ updateIdentityProvider: { id: ids.a0, audience: "https://elsewhere.example" } });
    expect((await whoami(await a0.token("a0-globex-viewer"))).status).to.equal(401);
    await platform("platform:admin", "globex", UPDATE, { id: ids.a0, input: a0Input() });
    expect((await whoami(await a0.token("a0-globex-viewer"))).status).to.equal(200);
    const rows = await auditRows("globex", "identity_provider.update");
    expect(rows.map((r) => [(r.changes.before as { audience: string }).audience, (r.changes.after as { audience: string }).audience])).to.deep.equal([
      [A0_AUDIENCE, "https://elsewhere.example"],
      ["https://elsewhere.example", A0_AUDIENCE],
    ]);
  });

  it("unbinding returns the tenant to the default provider", async function () {
    const res = await platform("platform:admin", "acme", "mutation { unbindIdentityProvider }");
    expect(res.body.data).to.deep.equal({ unbindIdentityProvider: true });
    expect((await whoami(await h.token("acme", "admin"))).status).to.equal(200);
    expect((await whoami(await kc.token("kc-acme-admin"))).status).to.equal(401);
    const rows = await auditRows("acme", "identity_provider.unbind");
    expect(rows).to.have.length(1);
    expect(rows[0]!.changes.after).to.deep.equal({ identityProvider: "default" });
    expect((rows[0]!.changes.before as { identityProvider: { issuer: string } }).identityProvider.issuer).to.equal(kc.issuer);
    expect((await platform("platform:admin", "acme", "mutation { unbindIdentityProvider }")).body.data).to.deep.equal({ unbindIdentityProvider: false });
  });
});
