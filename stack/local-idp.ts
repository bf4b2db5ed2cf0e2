import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID, timingSafeEqual, createHash } from "node:crypto";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload, type JWTHeaderParameters } from "jose";

/**
 * A local OpenID provider for development and tests: oidc-provider in-process, issuing JWT access
 * tokens (typ at+jwt, RFC 9068) for one resource server (the API
 * audience) with the Meterline claims tenant_id and roles. It is a real IdP (discovery, JWKS,
 * token endpoint), so the API validates its tokens exactly as it would a production IdP's.
 * Machine clients use client_credentials; people sign in to the dashboard (a public client,
 * authorization code + PKCE) as demo users on a real login page (oidc-provider's interaction
 * routes, rendered here). Development only: the demo passwords are printed by `npm start`.
 */

export interface LocalIdpClient {
  clientId: string;
  clientSecret: string;
  tenant: string;
  roles: string[];
}

/** A person who signs in on the login page; their tokens carry this tenant and these roles. */
export interface LocalIdpUser {
  username: string;
  password: string;
  tenant: string;
  roles: string[];
}

/** A browser app: no secret, authorization code with PKCE, redirects to these URIs only. */
export interface LocalIdpPublicClient {
  clientId: string;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
}

export type LocalIdpAlgorithm = "ES256" | "RS256";

export interface LocalIdpOptions {
  port?: number;
  host?: string;
  clients: LocalIdpClient[];
  /** Demo users for the login page. */
  users?: LocalIdpUser[];
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
  /**
   * Registers a browser app (the dashboard, whose origin is known only once the API listens).
   * Rebuilds the provider: sign-ins in progress start over.
   */
  addPublicClient(client: LocalIdpPublicClient): void;
}

interface SigningKey {
  kid: string;
  privateJwk: Record<string, unknown>;
  privateKey: CryptoKey;
}

/** The slice of oidc-provider used here (the package ships no type declarations). */
interface OidcProviderModule {
  Provider: new (issuer: string, configuration: unknown) => OidcProvider;
  errors: { InvalidTarget: new () => Error };
}

interface InteractionDetails {
  uid: string;
  prompt: { name: string };
  params: Record<string, unknown>;
  session?: { accountId?: string };
}

interface OidcProvider {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
  interactionFinished(req: IncomingMessage, res: ServerResponse, result: unknown, options?: { mergeWithLastSubmission?: boolean }): Promise<void>;
  Grant: new (args: { accountId: string; clientId: string }) => {
    addOIDCScope(scope: string): void;
    addResourceScope(resource: string, scope: string): void;
    save(): Promise<string>;
  };
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
  const users = new Map((options.users ?? []).map((u) => [u.username, u]));
  const publicClients: LocalIdpPublicClient[] = [];
  const keys: SigningKey[] = [await newSigningKey(alg)];

  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host ?? "127.0.0.1";
  const issuer = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;

  const cookieKey = randomUUID();
  let provider: OidcProvider;
  const build = () => {
    // oidc-provider signs with the first key of the requested alg; the newest key goes first.
    const jwks = { keys: [...keys].reverse().map((k) => k.privateJwk) };
    const p = new Provider(issuer, {
      clients: [
        ...options.clients.map((c) => ({
          client_id: c.clientId,
          client_secret: c.clientSecret,
          grant_types: ["client_credentials"],
          redirect_uris: [],
          response_types: [],
          token_endpoint_auth_method: "client_secret_basic",
          scope: "api",
          id_token_signed_response_alg: alg,
        })),
        ...publicClients.map((c) => ({
          client_id: c.clientId,
          grant_types: ["authorization_code"],
          response_types: ["code"],
          redirect_uris: c.redirectUris,
          post_logout_redirect_uris: c.postLogoutRedirectUris,
          token_endpoint_auth_method: "none",
          scope: "openid api",
          id_token_signed_response_alg: alg,
        })),
      ],
      clientDefaults: { id_token_signed_response_alg: alg },
      jwks,
      scopes: ["openid", "api"],
      findAccount: (_ctx: unknown, sub: string) => (users.has(sub) ? { accountId: sub, claims: () => ({ sub }) } : undefined),
      interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
      ttl: { ClientCredentials: ttl },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        rpInitiatedLogout: { enabled: true, logoutSource: renderLogout },
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
      extraTokenClaims: (_ctx: unknown, token: { clientId?: string; accountId?: string }) => {
        const user = token.accountId ? users.get(token.accountId) : undefined;
        if (user) return { tenant_id: user.tenant, roles: user.roles };
        const client = token.clientId ? clientsById.get(token.clientId) : undefined;
        if (!client) return undefined;
        return { tenant_id: client.tenant, roles: client.roles };
      },
      // Sessions and interactions of the login page; a restart signs everyone out.
      cookies: { keys: [cookieKey] },
    });
    return p;
  };
  provider = build();
  server.on("request", (req, res) => {
    if (req.url?.startsWith("/interaction/")) {
      serveInteraction(provider, users, options.audience, req, res).catch(() => {
        if (!res.headersSent) sendPage(res, 400, page("Sign-in failed", `<p>This sign-in expired or is invalid. Go back to the app and sign in again.</p>`));
      });
      return;
    }
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
    addPublicClient(client) {
      publicClients.push(client);
      provider = build();
    },
  };
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// The IdP's pages run no script at all; the styles are inline.
const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'";
const STYLE =
  "body{font-family:system-ui,sans-serif;background:#f6f8fa;color:#1b2430}main{max-width:380px;margin:80px auto;background:#fff;border:1px solid #d8dde4;border-radius:12px;padding:24px 32px}" +
  "label{display:block;margin:12px 0 4px}input{font:inherit;width:100%;box-sizing:border-box;padding:6px 8px;border:1px solid #d8dde4;border-radius:6px}" +
  "button{font:inherit;margin-top:16px;padding:8px 14px;border-radius:6px;border:1px solid #1f4e79;background:#1f4e79;color:#fff;cursor:pointer}button.secondary{background:#fff;color:#1f4e79}" +
  ".error{background:#fdecea;color:#b42318;padding:8px;border-radius:6px}.hint{color:#5b6675;font-size:.9rem}:focus-visible{outline:3px solid #f5a623}";

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}

function sendPage(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", "content-security-policy": PAGE_CSP, "x-frame-options": "DENY" });
  res.end(html);
}

function loginPage(uid: string, client: string, error?: string, username = ""): string {
  return page(
    "Sign in to Meterline",
    `<p class="hint">Local demo identity provider, for ${escapeHtml(client)}.</p>` +
      (error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : "") +
      `<form method="post" action="/interaction/${escapeHtml(uid)}/login">` +
      `<label for="username">Username</label><input id="username" name="username" autocomplete="username" required autofocus value="${escapeHtml(username)}">` +
      `<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>` +
      `<button type="submit">Sign in</button></form>` +
      `<p class="hint">Demo users are printed by <code>npm start</code> (e.g. acme-viewer, acme-admin, platform-admin).</p>`,
  );
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  let body = "";
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > 10_000) throw new Error("form too large");
  }
  return new URLSearchParams(body);
}

const digest = (s: string) => createHash("sha256").update(s).digest();

/**
 * The login page (GET /interaction/:uid) and its form (POST /interaction/:uid/login). A good
 * password finishes the interaction with the login and, the dashboard being first-party, the
 * consent: the `openid` scope and the API's `api` scope for its audience.
 */
async function serveInteraction(provider: OidcProvider, users: Map<string, LocalIdpUser>, audience: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  const clientId = String(details.params.client_id ?? "");
  const finish = async (accountId: string) => {
    const grant = new provider.Grant({ accountId, clientId });
    grant.addOIDCScope("openid api");
    grant.addResourceScope(audience, "api");
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { login: { accountId }, consent: { grantId } }, { mergeWithLastSubmission: false });
  };
  if (req.method === "GET") {
    // Already signed in at the IdP, only the grant is missing: first-party, granted as asked.
    if (details.prompt.name === "consent" && details.session?.accountId) return finish(details.session.accountId);
    return sendPage(res, 200, loginPage(details.uid, clientId));
  }
  if (req.method !== "POST" || !req.url?.endsWith("/login")) return sendPage(res, 405, page("Not allowed", "<p>Use the sign-in form.</p>"));
  const form = await readForm(req);
  const username = form.get("username") ?? "";
  const user = users.get(username);
  // Compare digests: equal length, constant time, whatever was typed, known user or not.
  const matches = timingSafeEqual(digest(form.get("password") ?? ""), digest(user?.password ?? randomUUID()));
  const ok = user !== undefined && matches;
  if (!ok) return sendPage(res, 401, loginPage(details.uid, clientId, "Wrong username or password.", username));
  return finish(user.username);
}

/** oidc-provider's sign-out confirmation, without its web fonts. */
async function renderLogout(ctx: { body: string; host: string }, form: string): Promise<void> {
  ctx.body = page(
    "Sign out of Meterline?",
    `${form}<button type="submit" form="op.logoutForm" value="yes" name="logout" autofocus>Yes, sign me out</button> <button type="submit" class="secondary" form="op.logoutForm">No, stay signed in</button>`,
  );
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
