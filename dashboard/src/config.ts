/** The settings the API serves at /dashboard-config.json (api/http/dashboard.ts writes them). */
export interface DashboardConfig {
  graphqlPath: string;
  oidc: { issuer: string; clientId: string; audience: string; scope: string };
  platformRolePrefix: string;
  webhookEventTypes: string[];
  chain: { rpcUrl: string; chainId: number | null; meter: string | null; anchor: string | null } | null;
}

export class ConfigLoadError extends Error {
  override name = "ConfigLoadError";
}

export async function loadConfig(): Promise<DashboardConfig> {
  let res: Response;
  try {
    res = await fetch("/dashboard-config.json", { headers: { accept: "application/json" } });
  } catch (err) {
    throw new ConfigLoadError("Cannot reach the Meterline API for its settings.", { cause: err });
  }
  if (!res.ok) throw new ConfigLoadError(`The API answered ${res.status} for /dashboard-config.json.`);
  const body = (await res.json()) as Partial<DashboardConfig>;
  if (!body.oidc?.issuer || !body.oidc.clientId || !body.graphqlPath) throw new ConfigLoadError("/dashboard-config.json lacks the issuer, client id or GraphQL path.");
  return body as DashboardConfig;
}
