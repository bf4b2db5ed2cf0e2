import { recordAudit } from "../../db/audit-log";
import { parseClaimPath } from "../auth/claims";
import { ASYMMETRIC_ALGORITHMS, FORBIDDEN_ALGORITHMS, TOKEN_TYPE } from "../config";
import type { RequestContext } from "../context";
import { BadInputError, ConflictError, NotFoundError } from "../errors";
import {
  bindProvider,
  boundProviderId,
  findProvider,
  insertProvider,
  listProviders,
  unbindProvider,
  updateProvider,
  type IdentityProviderFields,
  type IdentityProviderRow,
} from "../read/identity-providers";
import { fromGlobalId, toGlobalId } from "./ids";

interface IdentityProviderInput {
  issuer: string;
  audience: string;
  jwksUri: string;
  tenantClaim: string;
  rolesClaim: string;
  algorithms?: string[] | null;
  tokenTypes?: string[] | null;
}

const node = (r: IdentityProviderRow) => ({
  id: toGlobalId("IdentityProvider", r.id),
  issuer: r.issuer,
  audience: r.audience,
  jwksUri: r.jwks_uri,
  algorithms: r.algorithms,
  tokenTypes: r.token_types,
  tenantClaim: r.tenant_claim,
  rolesClaim: r.roles_claim,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

// What an audit row keeps of a provider: its whole configuration (it holds no secret).
const audited = (r: IdentityProviderRow) => ({
  id: r.id,
  issuer: r.issuer,
  audience: r.audience,
  jwksUri: r.jwks_uri,
  algorithms: r.algorithms,
  tokenTypes: r.token_types,
  tenantClaim: r.tenant_claim,
  rolesClaim: r.roles_claim,
});

const LOOPBACK_HOST = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/;

function url(value: string, field: string, max: number, httpsOnly: boolean): URL {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new BadInputError("must be an absolute http(s) URL", { field });
  }
  if (value.length > max) throw new BadInputError(`at most ${max} characters`, { field });
  if (u.protocol !== "https:" && u.protocol !== "http:") throw new BadInputError("must be an absolute http(s) URL", { field });
  if (u.username !== "" || u.password !== "") throw new BadInputError("must not carry credentials", { field });
  if (u.search !== "" || u.hash !== "") throw new BadInputError("must not have a query or fragment", { field });
  // Keys fetched over plain HTTP could be swapped on the way: https in production, but loopback.
  if (httpsOnly && u.protocol !== "https:" && !LOOPBACK_HOST.test(u.hostname)) throw new BadInputError("must be https outside loopback in production", { field });
  return u;
}

/** The whole input checked before anything is written; the message names the field. */
function validated(input: IdentityProviderInput, ctx: RequestContext): IdentityProviderFields {
  const { defaultIssuer, httpsOnly } = ctx.identityProviders;
  url(input.issuer, "input.issuer", 500, httpsOnly);
  if (input.issuer.replace(/\/$/, "") === defaultIssuer.replace(/\/$/, "")) {
    throw new BadInputError("is the default provider (OIDC_ISSUER), which serves every tenant bound to none", { field: "input.issuer" });
  }
  const audience = input.audience.trim();
  if (audience === "" || audience.length > 500) throw new BadInputError("1 to 500 characters", { field: "input.audience" });
  url(input.jwksUri, "input.jwksUri", 2000, httpsOnly);
  for (const field of ["tenantClaim", "rolesClaim"] as const) {
    if (input[field].length > 200 || parseClaimPath(input[field]) === undefined) {
      throw new BadInputError("a claim path: dot-separated names, or one URL-like claim name", { field: `input.${field}` });
    }
  }
  const algorithms = input.algorithms ?? ["ES256", "RS256"];
  if (algorithms.length === 0 || algorithms.length > 11 || new Set(algorithms).size !== algorithms.length) {
    throw new BadInputError("1 to 11 distinct algorithms", { field: "input.algorithms" });
  }
  for (const [i, a] of algorithms.entries()) {
    if (FORBIDDEN_ALGORITHMS.test(a) || !ASYMMETRIC_ALGORITHMS.has(a)) throw new BadInputError("asymmetric algorithms only (HS* and none are never accepted)", { field: `input.algorithms.${i}` });
  }
  const tokenTypes = input.tokenTypes ?? ["at+jwt"];
  if (tokenTypes.length === 0 || tokenTypes.length > 3) throw new BadInputError("1 to 3 token types", { field: "input.tokenTypes" });
  for (const [i, t] of tokenTypes.entries()) {
    if (!TOKEN_TYPE.test(t)) throw new BadInputError("allowed: at+jwt, JWT", { field: `input.tokenTypes.${i}` });
  }
  return { issuer: input.issuer, audience, jwksUri: input.jwksUri, algorithms, tokenTypes, tenantClaim: input.tenantClaim, rolesClaim: input.rolesClaim };
}

function providerIdOf(id: string): string | null {
  const key = fromGlobalId(id, "IdentityProvider", 1);
  return key && /^\d{1,18}$/.test(key[0]!) ? key[0]! : null;
}

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === "23505";

/**
 * Runs a change in the tenant's transaction, then makes this replica's token verification see it
 * at once (other replicas within the directory's cache time).
 */
async function change<T>(ctx: RequestContext, fn: Parameters<RequestContext["db"]["run"]>[1]): Promise<T> {
  try {
    return (await ctx.db.run(ctx.principal, fn)) as T;
  } finally {
    ctx.identityProviders.directory.invalidate();
  }
}

export const identityProviderResolvers = {
  Query: {
    identityProviders: (_: unknown, __: unknown, ctx: RequestContext) => ctx.db.run(ctx.principal, async (c) => (await listProviders(c)).map(node)),
    tenantIdentityProvider: (_: unknown, __: unknown, ctx: RequestContext) =>
      ctx.db.run(ctx.principal, async (c, tenantId) => {
        if (tenantId === null) return null;
        const id = await boundProviderId(c, tenantId);
        const row = id === null ? null : await findProvider(c, id);
        return row ? node(row) : null;
      }),
  },
  Mutation: {
    createIdentityProvider: (_: unknown, args: { input: IdentityProviderInput }, ctx: RequestContext) => {
      const fields = validated(args.input, ctx);
      return change(ctx, async (c, tenantId) => {
        if (tenantId === null) throw new NotFoundError();
        const row = await insertProvider(c, fields);
        if (!row) throw new ConflictError("An identity provider with this issuer exists.");
        await recordAudit(c, tenantId, ctx.actor, { action: "identity_provider.create", entityType: "identity_provider", entityId: row.id, before: null, after: audited(row) });
        return node(row);
      });
    },
    updateIdentityProvider: (_: unknown, args: { id: string; input: IdentityProviderInput }, ctx: RequestContext) => {
      const id = providerIdOf(args.id);
      if (id === null) throw new NotFoundError();
      const fields = validated(args.input, ctx);
      return change(ctx, async (c, tenantId) => {
        const before = tenantId === null ? null : await findProvider(c, id);
        if (tenantId === null || before === null) throw new NotFoundError();
        let after: IdentityProviderRow | null;
        try {
          after = await updateProvider(c, id, fields);
        } catch (err) {
          if (isUniqueViolation(err)) throw new ConflictError("An identity provider with this issuer exists.", { cause: err });
          throw err;
        }
        await recordAudit(c, tenantId, ctx.actor, { action: "identity_provider.update", entityType: "identity_provider", entityId: id, before: audited(before), after: audited(after!) });
        return node(after!);
      });
    },
    bindIdentityProvider: (_: unknown, args: { id: string }, ctx: RequestContext) => {
      const id = providerIdOf(args.id);
      if (id === null) throw new NotFoundError();
      return change(ctx, async (c, tenantId) => {
        const provider = tenantId === null ? null : await findProvider(c, id);
        if (tenantId === null || provider === null) throw new NotFoundError();
        const previousId = await boundProviderId(c, tenantId);
        const previous = previousId === null ? null : await findProvider(c, previousId);
        await bindProvider(c, tenantId, id);
        await recordAudit(c, tenantId, ctx.actor, {
          action: "identity_provider.bind",
          entityType: "tenant",
          entityId: ctx.principal.tenant,
          before: { identityProvider: previous ? audited(previous) : "default" },
          after: { identityProvider: audited(provider) },
        });
        return node(provider);
      });
    },
    unbindIdentityProvider: (_: unknown, __: unknown, ctx: RequestContext) =>
      change(ctx, async (c, tenantId) => {
        if (tenantId === null) throw new NotFoundError();
        const previousId = await boundProviderId(c, tenantId);
        const previous = previousId === null ? null : await findProvider(c, previousId);
        if (!(await unbindProvider(c, tenantId)) || previous === null) return false;
        await recordAudit(c, tenantId, ctx.actor, {
          action: "identity_provider.unbind",
          entityType: "tenant",
          entityId: ctx.principal.tenant,
          before: { identityProvider: audited(previous) },
          after: { identityProvider: "default" },
        });
        return true;
      }),
  },
};
