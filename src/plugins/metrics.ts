// Prometheus metrics from prom-client, in a registry owned by this app instance
// (no global default registry, so tests can build several apps in one process).
// Metrics name routes, event counts and process internals: not for the public.
// GET /metrics needs METRICS_TOKEN as its bearer token, and answers 404 while
// none is configured (ASVS 13.4.5: no internals on the public interface).
import { createHash, timingSafeEqual } from "node:crypto";
import type { LevelWithSilent } from "pino";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { AppError } from "../errors.ts";
import type { App } from "../http/app-type.ts";
import { bearerToken } from "../http/guards.ts";
import { problemResponsesFor } from "../http/problem.ts";

const digest = (value: string) => createHash("sha256").update(value).digest();

/** Compares digests, so neither the length nor the content of the token leaks through timing. */
function scrapeGuard(token: string | undefined) {
  const expected = token ? digest(token) : null;
  return async function requireMetricsToken(request: Parameters<typeof bearerToken>[0]) {
    if (!expected) throw new AppError("NOT_FOUND");
    const given = bearerToken(request);
    if (!given || !timingSafeEqual(digest(given), expected)) throw new AppError("UNAUTHENTICATED", { logReason: "metrics_token" });
  };
}

/** The outbox's rows by state, read at each scrape (audit/repository.ts countOutbox). */
export type OutboxCounts = () => Promise<{ pending: number; dead: number }>;

export function registerMetrics(app: App, logLevel: LevelWithSilent, token: string | undefined, outboxCounts?: OutboxCounts) {
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
    preHandler: scrapeGuard(token),
    schema: {
      tags: ["Operations"],
      summary: "Prometheus metrics (text exposition format)",
      description: "Needs METRICS_TOKEN as the bearer token; 404 while METRICS_TOKEN is not configured.",
      security: [{ bearerAuth: [] }],
      produces: ["text/plain"],
      response: {
        200: { type: "string", description: "Prometheus text format 0.0.4", "x-examples": { default: { summary: "Two series", value: "# HELP http_requests_total Requests by route and status\n# TYPE http_requests_total counter\nhttp_requests_total{method=\"GET\",route=\"/v1/me\",status=\"200\"} 42\n" } } },
        ...problemResponsesFor("UNAUTHENTICATED", "NOT_FOUND"),
      },
    },
  }, async (_request, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });

  const pushSends = new Counter({
    name: "push_sends_total",
    help: "Push deliveries to authenticator apps by kind (webpush, apns, fcm) and outcome (sent, gone, failed)",
    labelNames: ["kind", "outcome"],
    registers: [registry],
  });

  const deliveries = new Counter({
    name: "webhook_deliveries_total",
    help: "Webhook attempts of this instance by outcome (delivered, retry, dead)",
    labelNames: ["outcome"],
    registers: [registry],
  });
  if (outboxCounts) {
    // Counted in the database at each scrape, so every instance reports the
    // shared outbox and a dead row shows even after the instance that gave up restarted.
    new Gauge({
      name: "webhook_outbox_messages",
      help: "Notifications in the outbox by state: pending (due or waiting for a retry) and dead (no attempt left; notifications retry ID)",
      labelNames: ["state"],
      registers: [registry],
      async collect() {
        // With the database down the scrape still answers (the last values stay); readiness reports the outage.
        const counts = await outboxCounts().catch(() => null);
        if (!counts) return;
        this.set({ state: "pending" }, counts.pending);
        this.set({ state: "dead" }, counts.dead);
      },
    });
  }

  return {
    countDelivery: (outcome: string) => deliveries.inc({ outcome }),
    countEvent: (event: string) => authEvents.inc({ event }),
    countPush: (kind: string, outcome: string) => pushSends.inc({ kind, outcome }),
  };
}
