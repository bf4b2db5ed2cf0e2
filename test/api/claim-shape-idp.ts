import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair } from "jose";
import { fetchClientCredentialsToken } from "../../stack/local-idp";

/**
 * An in-process oidc-provider issuing JWT access tokens whose claims have the shape a test asks
 * for (Keycloak's `realm_access.roles`, an Auth0-style namespaced claim…): a real IdP with
 * discovery, JWKS and a token endpoint, like stack/local-idp.ts but without its fixed claim names.
 */
export interface ClaimShapeIdp {
  issuer: string;
  jwksUri: string;
  token(clientId: string): Promise<string>;
  close(): Promise<void>;
}

interface OidcProviderModule {
  Provider: new (issuer: string, configuration: unknown) => {
    callback(): (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => void;
  };
  errors: { InvalidTarget: new () => Error };
}
const OIDC_PROVIDER = "oidc-provider";

export async function startClaimShapeIdp(options: {
  audience: string;
  algorithm?: "ES256" | "RS256";
  /** Client id → the extra claims of its access tokens. */
  clients: Record<string, Record<string, unknown>>;
}): Promise<ClaimShapeIdp> {
  const { Provider, errors } = (await import(OIDC_PROVIDER)) as OidcProviderModule;
  const alg = options.algorithm ?? "ES256";
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomUUID();
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: Object.keys(options.clients).map((id) => ({
      client_id: id,
      client_secret: `secret-${id}`,
      grant_types: ["client_credentials"],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: "client_secret_basic",
      scope: "api",
      id_token_signed_response_alg: alg,
    })),
    clientDefaults: { id_token_signed_response_alg: alg },
    jwks: { keys: [{ ...(await exportJWK(privateKey)), kid, alg, use: "sig" }] },
    scopes: ["api"],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => options.audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, resource: string) => {
          if (resource !== options.audience) throw new errors.InvalidTarget();
          return { scope: "api", audience: options.audience, accessTokenTTL: 600, accessTokenFormat: "jwt", jwt: { sign: { alg } } };
        },
      },
    },
    extraTokenClaims: (_ctx: unknown, token: { clientId?: string }) => (token.clientId ? options.clients[token.clientId] : undefined),
    cookies: { keys: [randomUUID()] },
  });
  server.on("request", provider.callback());
  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    token: (clientId) => fetchClientCredentialsToken({ issuer, clientId, clientSecret: `secret-${clientId}`, audience: options.audience }),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
