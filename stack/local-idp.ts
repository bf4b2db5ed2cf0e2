import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload, type JWTHeaderParameters } from "jose";

/**
 * A local OpenID provider for development and tests: oidc-provider in-process, client_credentials
 * only, issuing JWT access tokens (typ at+jwt, RFC 9068) for one resource server (the API
 * audience) with the Meterline claims tenant_id and roles. It is a real IdP (discovery, JWKS,
 * token endpoint), so the API validates its tokens exactly as it would a production IdP's.
 */

export interface LocalIdpClient {
  clientId: string;
  clientSecret: string;
  tenant: string;
  roles: string[];
}

export type LocalIdpAlgorithm = "ES256" | "RS256";

export interface LocalIdpOptions {
  port?: number;
  host?: string;
  clients: LocalIdpClient[];
  /** The resource indicator and `aud` of every access token. */
  audience: string;
  accessTokenTtlSeconds?: number;
  algorithm?: LocalIdpAlgorithm;
}

export interface LocalIdp {
  issuer: string;
  jwksUri: string;
  close(): Promise<void>;
  getToken(clientId: string, clientSecret: string): Promise<string>;
  /**
   * Signs arbitrary claims and header with the IdP's current signing key. Only for tests that
   * need a correctly signed token with wrong contents (missing claims, wrong typ, future iat…).
   */
  signWithIdpKey(payload: JWTPayload, header?: Partial<JWTHeaderParameters>): Promise<string>;
  /** Adds a new signing key and makes it the one used for new tokens (old key stays published). */
  rotateKey(): Promise<void>;
}

interface SigningKey {
  kid: string;
  privateJwk: Record<string, unknown>;
  privateKey: CryptoKey;
}

/** The slice of oidc-provider used here (the package ships no type declarations). */
interface OidcProviderModule {
  Provider: new (issuer: string, configuration: unknown) => {
    callback(): (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => void;
  };
  errors: { InvalidTarget: new () => Error };
}

// A variable specifier keeps TypeScript from looking for declarations; at run time this is
// require() of an ES module, which Node 20.19+ supports.
const OIDC_PROVIDER = "oidc-provider";

async function newSigningKey(alg: LocalIdpAlgorithm): Promise<SigningKey> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomUUID();
  const jwk = await exportJWK(privateKey);
  return { kid, privateKey, privateJwk: { ...jwk, kid, alg, use: "sig" } };
}

export async function startLocalIdp(options: LocalIdpOptions): Promise<LocalIdp> {
  const { Provider, errors } = (await import(OIDC_PROVIDER)) as OidcProviderModule;
  const alg = options.algorithm ?? "ES256";
  const ttl = options.accessTokenTtlSeconds ?? 3600;
  const clientsById = new Map(options.clients.map((c) => [c.clientId, c]));
  const keys: SigningKey[] = [await newSigningKey(alg)];

  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host ?? "127.0.0.1";
  const issuer = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;

  let provider: InstanceType<OidcProviderModule["Provider"]>;
  const build = () => {
    // oidc-provider signs with the first key of the requested alg; the newest key goes first.
    const jwks = { keys: [...keys].reverse().map((k) => k.privateJwk) };
    const p = new Provider(issuer, {
      clients: options.clients.map((c) => ({
        client_id: c.clientId,
        client_secret: c.clientSecret,
        grant_types: ["client_credentials"],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: "client_secret_basic",
        scope: "api",
        id_token_signed_response_alg: alg,
      })),
      clientDefaults: { id_token_signed_response_alg: alg },
      jwks,
      scopes: ["api"],
      ttl: { ClientCredentials: ttl },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => options.audience,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx: unknown, resourceIndicator: string) => {
            if (resourceIndicator !== options.audience) throw new errors.InvalidTarget();
            return {
              scope: "api",
              audience: options.audience,
              accessTokenTTL: ttl,
              accessTokenFormat: "jwt",
              jwt: { sign: { alg } },
            };
          },
        },
      },
      extraTokenClaims: (_ctx: unknown, token: { clientId?: string }) => {
        const client = token.clientId ? clientsById.get(token.clientId) : undefined;
        if (!client) return undefined;
        return { tenant_id: client.tenant, roles: client.roles };
      },
      // Cookies are never used (no interactive flows), but the provider wants keys.
      cookies: { keys: [randomUUID()] },
    });
    return p;
  };
  provider = build();
  server.on("request", (req, res) => {
    provider.callback()(req, res);
  });

  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    getToken: (clientId, clientSecret) =>
      fetchClientCredentialsToken({ issuer, clientId, clientSecret, audience: options.audience }),
    async signWithIdpKey(payload, header = {}) {
      const key = keys[keys.length - 1]!;
      return new SignJWT(payload).setProtectedHeader({ alg, typ: "at+jwt", kid: key.kid, ...header }).sign(key.privateKey);
    },
    async rotateKey() {
      keys.push(await newSigningKey(alg));
      provider = build();
    },
  };
}

/**
 * Mints an access token from any OIDC provider with the client_credentials grant (discovery,
 * then the token endpoint with client_secret_basic and a resource indicator). Used by the local
 * stack to hand out demo tokens.
 */
export async function fetchClientCredentialsToken(args: {
  issuer: string;
  clientId: string;
  clientSecret: string;
  audience: string;
}): Promise<string> {
  const discovery = await fetch(`${args.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`);
  if (!discovery.ok) throw new Error(`OIDC discovery failed: HTTP ${discovery.status}`);
  const { token_endpoint: tokenEndpoint } = (await discovery.json()) as { token_endpoint?: string };
  if (!tokenEndpoint) throw new Error("OIDC discovery has no token_endpoint");
  const basic = Buffer.from(
    `${encodeURIComponent(args.clientId)}:${encodeURIComponent(args.clientSecret)}`,
  ).toString("base64");
  const res = await fetch(tokenEndpoint, {
    method: "POST",
    headers: { authorization: `Basic ${basic}`, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", resource: args.audience, scope: "api" }).toString(),
  });
  const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
  if (!res.ok || !body.access_token) throw new Error(`token request failed: ${body.error ?? `HTTP ${res.status}`}${body.error_description ? ` (${body.error_description})` : ""}`);
  return body.access_token;
}

/** Convenience for the local stack: a token for one of the IdP's configured clients. */
export async function mintDemoToken(idp: LocalIdp, client: Pick<LocalIdpClient, "clientId" | "clientSecret">): Promise<string> {
  return idp.getToken(client.clientId, client.clientSecret);
}
