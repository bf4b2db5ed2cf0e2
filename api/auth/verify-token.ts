import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
} from "jose";
import type { ApiConfig } from "../config";
import { UnauthenticatedError, type AuthFailureReason } from "../errors";
import { claimAt, rolesFromClaim, tenantFromClaim } from "./claims";
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

/**
 * Strict access-token validation (RFC 8725, RFC 9068): keys only from the issuer's JWKS found by
 * discovery, algorithm and typ allowlists, exp/iat/sub/tenant required, issuer and audience,
 * bounded clock tolerance and token age.
 */
export function createTokenVerifier(
  config: ApiConfig["oidc"],
  options: { jwksCooldownMs?: number; fetchTimeoutMs?: number } = {},
): TokenVerifier {
  let jwks: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;
  const allowedTypes = new Set(config.tokenTypes.map(normalizeTyp));

  const keySet = () => {
    jwks ??= (async () => {
      const res = await fetch(`${config.issuer}/.well-known/openid-configuration`, {
        signal: AbortSignal.timeout(options.fetchTimeoutMs ?? 5000),
      });
      if (!res.ok) throw new UnauthenticatedError("idp_unavailable");
      const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
      // The discovery document must describe the configured issuer (mix-up defence).
      if (typeof doc.issuer !== "string" || doc.issuer.replace(/\/$/, "") !== config.issuer) {
        throw new UnauthenticatedError("idp_unavailable");
      }
      if (typeof doc.jwks_uri !== "string") throw new UnauthenticatedError("idp_unavailable");
      // Rotation: an unknown kid refetches the set, at most once per cooldown.
      return createRemoteJWKSet(new URL(doc.jwks_uri), {
        cooldownDuration: options.jwksCooldownMs ?? 30_000,
        cacheMaxAge: 10 * 60_000,
        timeoutDuration: options.fetchTimeoutMs ?? 5000,
      });
    })();
    // A failed discovery is retried by the next request instead of being cached forever.
    jwks.catch(() => {
      jwks = undefined;
    });
    return jwks;
  };

  // Verified tokens, so a dashboard's repeated requests skip the signature check. Keyed by the
  // whole token (what was verified); time-based claims are re-checked on every hit.
  const verified = new Map<string, JWTPayload>();
  const MAX_CACHED = 10_000;
  const stillValid = (p: JWTPayload) => {
    const now = Math.floor(Date.now() / 1000);
    return (p.exp as number) + config.clockToleranceS > now && (p.iat as number) + config.maxTokenAgeS + config.clockToleranceS >= now;
  };

  async function verifyCached(token: string): Promise<JWTPayload> {
    const hit = verified.get(token);
    if (hit) {
      if (stillValid(hit)) return hit;
      verified.delete(token);
      throw new UnauthenticatedError((hit.exp as number) + config.clockToleranceS <= Math.floor(Date.now() / 1000) ? "expired" : "too_old");
    }
    const payload = await verifyToken(token);
    if (verified.size >= MAX_CACHED) verified.delete(verified.keys().next().value!);
    verified.set(token, payload);
    return payload;
  }

  async function verifyToken(token: string): Promise<JWTPayload> {
    if (token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) throw new UnauthenticatedError("malformed");
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw new UnauthenticatedError("malformed");
    }
    if (KEY_CARRYING_HEADERS.some((h) => h in header)) throw new UnauthenticatedError("header_key_injection");
    if (typeof header.alg !== "string" || !config.algorithms.includes(header.alg)) throw new UnauthenticatedError("algorithm");
    if (typeof header.typ !== "string" || !allowedTypes.has(normalizeTyp(header.typ))) throw new UnauthenticatedError("token_type");
    if (header.crit !== undefined) throw new UnauthenticatedError("malformed");
    if (header.kid !== undefined && (typeof header.kid !== "string" || header.kid.length > 256)) throw new UnauthenticatedError("malformed");
    const keys = await keySet();
    const { payload } = await jwtVerify(token, keys, {
      issuer: config.issuer,
      audience: config.audience,
      algorithms: config.algorithms,
      clockTolerance: config.clockToleranceS,
      maxTokenAge: config.maxTokenAgeS,
      requiredClaims: ["exp", "iat", "sub", "iss", "aud"],
    });
    if (typeof payload.sub !== "string" || payload.sub === "") throw new UnauthenticatedError("missing_claim");
    // jose tolerates a future iat within maxTokenAge's lower bound only with clock tolerance; be explicit.
    const now = Math.floor(Date.now() / 1000);
    if (typeof payload.iat !== "number" || payload.iat > now + config.clockToleranceS) throw new UnauthenticatedError("issued_in_future");
    return payload;
  }

  return {
    async verify(authorization, actingTenant) {
      if (!authorization) throw new UnauthenticatedError("missing_token");
      const match = /^Bearer ([^\s]+)$/i.exec(authorization);
      if (!match) throw new UnauthenticatedError("malformed");
      let payload: JWTPayload;
      try {
        payload = await verifyCached(match[1]!);
      } catch (err) {
        throw err instanceof UnauthenticatedError ? err : new UnauthenticatedError(reasonOf(err), { cause: err });
      }
      const tokenTenant = tenantFromClaim(claimAt(payload, config.tenantClaim));
      if (!tokenTenant) throw new UnauthenticatedError("tenant");
      const claimed = rolesFromClaim(claimAt(payload, config.rolesClaim));
      const expiresAt = (payload.exp as number) * 1000;
      if (actingTenant !== undefined) {
        // Only a platform operator may name a tenant, and only explicitly, per request. It acts
        // there with exactly the platform roles its token grants: no tenant role, granted or not.
        const roles = platformRoles(claimed, config.platformRolePrefix);
        if (roles.size === 0) throw new UnauthenticatedError("platform_tenant");
        if (tenantFromClaim(actingTenant) === undefined) throw new UnauthenticatedError("platform_tenant");
        return { subject: payload.sub!, tenant: actingTenant, tokenTenant, roles, platform: true, expiresAt };
      }
      return { subject: payload.sub!, tenant: tokenTenant, tokenTenant, roles: tenantRoles(claimed), platform: false, expiresAt };
    },
  };
}
