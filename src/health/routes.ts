import type { LevelWithSilent } from "pino";
import { Type } from "typebox";
import type { App } from "../http/app-type.ts";
import { AppError } from "../errors.ts";
import { problemResponsesFor } from "../http/problem.ts";
import { component, ref, withExample } from "../http/components.ts";

const HealthSchema = component("Health", Type.Object(
  { status: Type.Literal("ok", { description: "Healthy" }) },
  { additionalProperties: false, description: "No versions or internals (ASVS 13.4.5)" },
));
const healthy = withExample(ref(HealthSchema), "Healthy", { status: "ok" });

/** Readiness asks every dependency a request needs: the database, and Redis when the counters live there. */
export function registerHealthRoutes(app: App, checks: Array<() => Promise<void>>, logLevel: LevelWithSilent) {
  app.get("/health/live", {
    logLevel,
    schema: { tags: ["Operations"], summary: "Liveness: the process answers", security: [], response: { 200: healthy } },
  }, async () => ({ status: "ok" as const }));

  app.get("/health/ready", {
    logLevel,
    schema: {
      tags: ["Operations"],
      summary: "Readiness: the database (and Redis, when configured) answer",
      security: [],
      response: { 200: healthy, ...problemResponsesFor("UNAVAILABLE") },
    },
  }, async (request) => {
    try {
      await Promise.all(checks.map((check) => check()));
    } catch (error) {
      // The error's name and code only: its message may name the database or carry SQL.
      const { name, code } = error as { name?: string; code?: string };
      request.log.warn({ errorName: name, errorCode: code }, "readiness check failed");
      throw new AppError("UNAVAILABLE", { retryAfterSeconds: 5 });
    }
    return { status: "ok" as const };
  });
}
