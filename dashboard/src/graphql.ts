import { Client, cacheExchange, fetchExchange, mapExchange, subscriptionExchange } from "urql";
import { subscribeSse } from "./sse";

export interface ClientOptions {
  url: string;
  token: () => string | undefined;
  /** For platform roles: the tenant named in the Meterline-Tenant header (audited by the API). */
  actingTenant: () => string | undefined;
  /** A 401 means the session is over (expired or revoked). */
  onUnauthenticated: () => void;
}

export function createGraphqlClient(o: ClientOptions): Client {
  const headers = (): Record<string, string> => {
    const h: Record<string, string> = {};
    const token = o.token();
    if (token) h.authorization = `Bearer ${token}`;
    const tenant = o.actingTenant();
    if (tenant) h["meterline-tenant"] = tenant;
    return h;
  };
  return new Client({
    url: o.url,
    // Lists must reflect what the user just did (a rotated secret, a deleted endpoint).
    requestPolicy: "cache-and-network",
    fetchOptions: () => ({ headers: headers() }),
    exchanges: [
      mapExchange({
        onError(error) {
          const status = (error.response as Response | undefined)?.status;
          if (status === 401 || error.graphQLErrors.some((e) => e.extensions?.code === "UNAUTHENTICATED")) o.onUnauthenticated();
        },
      }),
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({ unsubscribe: subscribeSse(o.url, headers(), request, sink as Parameters<typeof subscribeSse>[3]) }),
        }),
      }),
    ],
  });
}

/** Error text for a failed query: the API's message (written for clients), not a stack. */
export function errorText(error: { graphQLErrors: { message: string }[]; networkError?: Error | undefined; message: string }): string {
  if (error.graphQLErrors.length > 0) return error.graphQLErrors.map((e) => e.message).join(" ");
  if (error.networkError) return `Cannot reach the API: ${error.networkError.message}`;
  return error.message;
}
