import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
} from "jose";
import type { ApiConfig } from "../config";
import { UnauthenticatedError, type AuthFailureReason } from "../errors";
import { claimAt, rolesFromClaim, tenantFromClaim } from "./claims";
import { IdentityDirectoryError, type IdentityProviderDirectory } from "./identity-providers";
import type { Principal } from "./principal";
import { platformRoles, tenantRoles } from "./roles";

export type { Principal };

export interface TokenVerifier {
  verify(authorization: string | undefined, actingTenant: string | undefined): Promise<Principal>;
}

// Compact JWS: three base64url segments. Anything else (JWE, JSON serialization, whitespace,
// stray characters) is malformed before any parsing happens.
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const MAX_TOKEN_LENGTH = 16_384;
// Header parameters that carry or point to a key: keys come from the issuer's JWKS only.
const KEY_CARRYING_HEADERS = ["jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"] as const;

function normalizeTyp(typ: string): string {
  const t = typ.toLowerCase();
  return t.startsWith("application/") ? t.slice("application/".length) : t;
}

function reasonOf(err: unknown): AuthFailureReason {
  if (err instanceof UnauthenticatedError) return err.reason;
  if (err instanceof joseErrors.JWTExpired) return err.claim === "iat" ? "too_old" : "expired";
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case "nbf":
        return "not_yet_valid";
      case "iat":
        return err.reason === "check_failed" ? "issued_in_future" : "missing_claim";
      case "iss":
        return "issuer";
      case "aud":
        return "audience";
      default:
        return "missing_claim";
    }
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return "algorithm";
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return "signature";
  if (err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JWKSMultipleMatchingKeys) return "unknown_key";
  if (err instanceof joseErrors.JWKSTimeout || err instanceof joseErrors.JWKSInvalid) return "idp_unavailable";
  if (err instanceof joseErrors.JOSENotSupported) return "algorithm";
  return "malformed";
}

/** Who issued a token, and how to check it: the default provider (OIDC_*) or a tenant's own. */
interface Issuer {
  /** null: the default provider, the only one whose tokens may carry platform roles. */
  providerId: string | null;
  issuer: string;
  audience: string;
  algorithms: string[];
  tokenTypes: ReadonlySet<string>;
  tenantClaim: string[];
  rolesClaim: string[];
  keys(): Promise<ReturnType<typeof createRemoteJWKSet>>;
}

// A tenant provider's verified tokens are trusted from the cache this long, so a configuration
// change made on another replica (new audience, new key set) reaches its tokens quickly too.
const TENANT_PROVIDER_CACHE_MS = 5000;

/**
 * Strict access-token validation (RFC 8725, RFC 9068): keys only from the issuer's JWKS (found by
 * discovery for the default provider, configured for a tenant's own), algorithm and typ
 * allowlists, exp/iat/sub/tenant required, issuer and audience, bounded clock tolerance and token
 * age. A token's `iss` picks the provider: the default one (OIDC_ISSUER) or a tenant identity
 * provider from `providers`; then the tenant it names must be bound to exactly that provider (the
 * default provider serves the tenants bound to none), so one issuer's tokens never act for a
 * tenant bound to another. Platform roles come only from the default provider.
 */
export function createTokenVerifier(
  config: ApiConfig["oidc"],
  options: { jwksCooldownMs?: number; fetchTimeoutMs?: number } = {},
  providers?: IdentityProviderDirectory,
): TokenVerifier {
  let jwks: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;
  const fetchTimeoutMs = options.fetchTimeoutMs ?? 5000;
  const remoteKeys = (uri: string) =>
    // Rotation: an unknown kid refetches the set, at most once per cooldown.
    createRemoteJWKSet(new URL(uri), {
      cooldownDuration: options.jwksCooldownMs ?? 30_000,
      cacheMaxAge: 10 * 60_000,
      timeoutDuration: fetchTimeoutMs,
    });

  const keySet = () => {
    jwks ??= (async () => {
      const res = await fetch(`${config.issuer}/.well-known/openid-configuration`, {
        signal: AbortSignal.timeout(fetchTimeoutMs),
      });
      if (!res.ok) throw new UnauthenticatedError("idp_unavailable");
      const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
      // The discovery document must describe the configured issuer (mix-up defence).
      if (typeof doc.issuer !== "string" || doc.issuer.replace(/\/$/, "") !== config.issuer) {
        throw new UnauthenticatedError("idp_unavailable");
      }
      if (typeof doc.jwks_uri !== "string") throw new UnauthenticatedError("idp_unavailable");
      return remoteKeys(doc.jwks_uri);
    })();
    // A failed discovery is retried by the next request instead of being cached forever.
    jwks.catch(() => {
      jwks = undefined;
    });
    return jwks;
  };

  const defaultIssuer: Issuer = {
    providerId: null,
    issuer: config.issuer,
    audience: config.audience,
    algorithms: config.algorithms,
    tokenTypes: new Set(config.tokenTypes.map(normalizeTyp)),
    tenantClaim: config.tenantClaim,
    rolesClaim: config.rolesClaim,
    keys: keySet,
  };

  // Key sets of tenant providers, per configuration version (a changed jwks_uri gets a new one).
  const tenantKeys = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
  async function issuerOf(iss: unknown): Promise<Issuer> {
    if (typeof iss !== "string" || iss === "") throw new UnauthenticatedError("missing_claim");
    if (iss === config.issuer) return defaultIssuer;
    // Registered issuers are http(s) URLs of at most 500 characters (043_identity_providers.sql):
    // anything else is looked up nowhere, so unverified tokens cannot fill the directory's cache.
    if (iss.length > 500 || !/^https?:\/\/\S+$/.test(iss)) throw new UnauthenticatedError("issuer");
    const p = providers ? await providers.byIssuer(iss) : null;
    if (!p) throw new UnauthenticatedError("issuer");
    return {
      providerId: p.id,
      issuer: p.issuer,
      audience: p.audience,
      algorithms: p.algorithms,
      tokenTypes: new Set(p.tokenTypes.map(normalizeTyp)),
      tenantClaim: p.tenantClaim,
      rolesClaim: p.rolesClaim,
      keys: async () => {
        let keys = tenantKeys.get(p.version);
        if (!keys) {
          if (tenantKeys.size >= 1000) tenantKeys.delete(tenantKeys.keys().next().value!);
          keys = remoteKeys(p.jwksUri);
          tenantKeys.set(p.version, keys);
        }
        return keys;
      },
    };
  }

  // Verified tokens, so a dashboard's repeated requests skip the signature check. Keyed by the
  // whole token (what was verified); time-based claims are re-checked on every hit.
  const verified = new Map<string, { payload: JWTPayload; issuer: Issuer; until: number }>();
  providers?.onInvalidate(() => verified.clear());
  const MAX_CACHED = 10_000;
  const stillValid = (p: JWTPayload) => {
    const now = Math.floor(Date.now() / 1000);
    return (p.exp as number) + config.clockToleranceS > now && (p.iat as number) + config.maxTokenAgeS + config.clockToleranceS >= now;
  };

  async function verifyCached(token: string): Promise<{ payload: JWTPayload; issuer: Issuer }> {
    const hit = verified.get(token);
    if (hit && hit.until > Date.now()) {
      if (stillValid(hit.payload)) return hit;
      verified.delete(token);
      throw new UnauthenticatedError((hit.payload.exp as number) + config.clockToleranceS <= Math.floor(Date.now() / 1000) ? "expired" : "too_old");
    }
    const result = await verifyToken(token);
    if (verified.size >= MAX_CACHED) verified.delete(verified.keys().next().value!);
    verified.set(token, { ...result, until: result.issuer.providerId === null ? Infinity : Date.now() + TENANT_PROVIDER_CACHE_MS });
    return result;
  }

  async function verifyToken(token: string): Promise<{ payload: JWTPayload; issuer: Issuer }> {
    if (token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) throw new UnauthenticatedError("malformed");
    let header: ReturnType<typeof decodeProtectedHeader>;
    let unverified: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      unverified = decodeJwt(token);
    } catch {
      throw new UnauthenticatedError("malformed");
    }
    if (KEY_CARRYING_HEADERS.some((h) => h in header)) throw new UnauthenticatedError("header_key_injection");
    // The claimed issuer only chooses which provider's rules and keys apply; jwtVerify then
    // requires that very issuer in the signed token.
    const issuer = await issuerOf(unverified.iss);
    if (typeof header.alg !== "string" || !issuer.algorithms.includes(header.alg)) throw new UnauthenticatedError("algorithm");
    if (typeof header.typ !== "string" || !issuer.tokenTypes.has(normalizeTyp(header.typ))) throw new UnauthenticatedError("token_type");
    if (header.crit !== undefined) throw new UnauthenticatedError("malformed");
    if (header.kid !== undefined && (typeof header.kid !== "string" || header.kid.length > 256)) throw new UnauthenticatedError("malformed");
    const keys = await issuer.keys();
    const { payload } = await jwtVerify(token, keys, {
      issuer: issuer.issuer,
      audience: issuer.audience,
      algorithms: issuer.algorithms,
      clockTolerance: config.clockToleranceS,
      maxTokenAge: config.maxTokenAgeS,
      requiredClaims: ["exp", "iat", "sub", "iss", "aud"],
    });
    if (typeof payload.sub !== "string" || payload.sub === "") throw new UnauthenticatedError("missing_claim");
    // jose tolerates a future iat within maxTokenAge's lower bound only with clock tolerance; be explicit.
    const now = Math.floor(Date.now() / 1000);
    if (typeof payload.iat !== "number" || payload.iat > now + config.clockToleranceS) throw new UnauthenticatedError("issued_in_future");
    return { payload, issuer };
  }

  return {
    async verify(authorization, actingTenant) {
      if (!authorization) throw new UnauthenticatedError("missing_token");
      const match = /^Bearer ([^\s]+)$/i.exec(authorization);
      if (!match) throw new UnauthenticatedError("malformed");
      let payload: JWTPayload;
      let issuer: Issuer;
      try {
        ({ payload, issuer } = await verifyCached(match[1]!));
      } catch (err) {
        if (err instanceof IdentityDirectoryError) throw err;
        throw err instanceof UnauthenticatedError ? err : new UnauthenticatedError(reasonOf(err), { cause: err });
      }
      const tokenTenant = tenantFromClaim(claimAt(payload, issuer.tenantClaim));
      if (!tokenTenant) throw new UnauthenticatedError("tenant");
      const claimed = rolesFromClaim(claimAt(payload, issuer.rolesClaim));
      const expiresAt = (payload.exp as number) * 1000;
      if (actingTenant !== undefined) {
        // Only a platform operator may name a tenant, and only explicitly, per request. It acts
        // there with exactly the platform roles its token grants: no tenant role, granted or not.
        // Platform operators are the platform's: a tenant's own provider grants no platform role.
        if (issuer.providerId !== null) throw new UnauthenticatedError("platform_tenant");
        const roles = platformRoles(claimed, config.platformRolePrefix);
        if (roles.size === 0) throw new UnauthenticatedError("platform_tenant");
        if (tenantFromClaim(actingTenant) === undefined) throw new UnauthenticatedError("platform_tenant");
        return { subject: payload.sub!, tenant: actingTenant, tokenTenant, roles, platform: true, expiresAt };
      }
      // The tenant must be bound to the provider that signed the token (none: the default).
      if (providers && (await providers.boundTo(tokenTenant)) !== issuer.providerId) throw new UnauthenticatedError("issuer_tenant");
      return { subject: payload.sub!, tenant: tokenTenant, tokenTenant, roles: tenantRoles(claimed), platform: false, expiresAt };
    },
  };
}
