import type { LevelWithSilent } from "pino";
// Prometheus metrics from prom-client, in a registry owned by this app instance
// (no global default registry, so tests can build several apps in one process).
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { App } from "../http/app-type.ts";

export function registerMetrics(app: App, logLevel: LevelWithSilent) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: "http_requests_total",
    help: "HTTP requests by route and status",
    labelNames: ["method", "route", "status"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "http_request_duration_seconds",
    help: "HTTP request latency by route",
    labelNames: ["method", "route"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const authEvents = new Counter({
    name: "auth_events_total",
    help: "Security events by type (sign-in success and failure, second step, lockouts)",
    labelNames: ["event"],
    registers: [registry],
  });

  app.addHook("onResponse", async (request, reply) => {
    // The route pattern, never the raw URL: ids must not explode the label set.
    const route = request.routeOptions.url ?? "unmatched";
    requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    duration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  app.get("/metrics", {
    logLevel,
    schema: {
      tags: ["Operations"],
      summary: "Prometheus metrics (text exposition format)",
      produces: ["text/plain"],
      response: { 200: { type: "string", description: "Prometheus text format 0.0.4" } },
    },
  }, async (_request, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });

  return { countEvent: (event: string) => authEvents.inc({ event }) };
}
