import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type pg from "pg";

export interface ApiMetrics {
  registry: Registry;
  requests: Counter<"route" | "status">;
  duration: Histogram<"route" | "operation">;
  authFailures: Counter<"reason">;
  rateLimited: Counter<"scope">;
  rateLimitStoreErrors: Counter<"scope">;
  /** The bounded `operation` label for an operation name (http/operation-name.ts). */
  operationLabel(name: string | undefined): string;
}

export function createApiMetrics(registry: Registry | undefined, pool: pg.Pool, operationLabel: (name: string | undefined) => string): ApiMetrics {
  const r = registry ?? new Registry();
  const pooled = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [r],
      collect() {
        this.set(read());
      },
    });
  pooled("meterline_api_db_pool_connections", "Connections open in the API's pool", () => pool.totalCount);
  pooled("meterline_api_db_pool_idle", "Idle connections in the API's pool", () => pool.idleCount);
  pooled("meterline_api_db_pool_waiting", "Requests waiting for a pooled connection", () => pool.waitingCount);
  return {
    registry: r,
    operationLabel,
    requests: new Counter({ name: "meterline_api_requests_total", help: "HTTP requests by route and status", labelNames: ["route", "status"], registers: [r] }),
    duration: new Histogram({
      name: "meterline_api_request_duration_seconds",
      help: "HTTP request latency",
      labelNames: ["route", "operation"],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [r],
    }),
    authFailures: new Counter({ name: "meterline_api_auth_failures_total", help: "Rejected access tokens by reason", labelNames: ["reason"], registers: [r] }),
    rateLimited: new Counter({ name: "meterline_api_rate_limited_total", help: "Requests rejected by rate limits", labelNames: ["scope"], registers: [r] }),
    rateLimitStoreErrors: new Counter({
      name: "meterline_api_rate_limit_store_errors_total",
      help: "Rate limit decisions the shared store (Redis) could not make; the replica's own limit judged them",
      labelNames: ["scope"],
      registers: [r],
    }),
  };
}
