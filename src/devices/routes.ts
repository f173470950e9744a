import { Type } from "typebox";
import { problemResponsesFor } from "../http/problem.ts";
import { component, ref, withExample } from "../http/components.ts";
import { bearerSecurity, type App } from "../http/app-type.ts";
import { AppError } from "../errors.ts";
import type { AppGuards } from "../sessions/guards.ts";
import type { EmitEvent } from "../audit/events.ts";
import type { DeviceService } from "./service.ts";

const DeviceSchema = component("Device", Type.Object(
  {
    id: Type.String({ format: "uuid", description: "Device id" }),
    name: Type.String({ description: "The label given when it was remembered" }),
    createdAt: Type.String({ format: "date-time", description: "When it was remembered" }),
    lastUsedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()], { description: "When it last skipped the second step, or null" }),
    expiresAt: Type.String({ format: "date-time", description: "When it stops skipping the second step (fixed at issue)" }),
  },
  { additionalProperties: false, description: "A trusted device" },
));

const DeviceListSchema = Type.Object(
  { devices: Type.Array(ref(DeviceSchema), { description: "Active trusted devices, newest first" }) },
  { additionalProperties: false, description: "The person's trusted devices" },
);

export function registerDeviceRoutes(app: App, deps: { guards: AppGuards; devices: DeviceService; emit: EmitEvent }) {
  const { guards, devices } = deps;

  app.get("/v1/me/devices", {
    preHandler: guards.user,
    schema: {
      tags: ["Me"],
      summary: "List trusted devices (\"Remember this device for 30 days\")",
      security: bearerSecurity,
      response: {
        200: withExample(DeviceListSchema, "One remembered device", { devices: [
          { id: "5e4d3c2b-1a09-4f8e-8d7c-6b5a49382716", name: "Work laptop", createdAt: "2026-11-20T09:00:00.000Z", lastUsedAt: "2026-12-01T07:58:00.000Z", expiresAt: "2026-12-20T09:00:00.000Z" },
        ] }),
        ...problemResponsesFor("UNAUTHENTICATED", "UNAVAILABLE"),
      },
    },
  }, async (request) => {
    const list = await devices.list(guards.principalOf(request).userId);
    return {
      devices: list.map((d) => ({
        id: d.id,
        name: d.name,
        createdAt: d.createdAt.toISOString(),
        lastUsedAt: d.lastUsedAt?.toISOString() ?? null,
        expiresAt: d.expiresAt.toISOString(),
      })),
    };
  });

  app.delete("/v1/me/devices/:id", {
    preHandler: guards.user,
    schema: {
      tags: ["Me"],
      summary: "Revoke one trusted device",
      security: bearerSecurity,
      params: Type.Object({ id: Type.String({ format: "uuid", description: "Device id" }) }, { additionalProperties: false }),
      response: { 204: Type.Null({ description: "Revoked" }), ...problemResponsesFor("UNAUTHENTICATED", "NOT_FOUND", "UNAVAILABLE") },
    },
  }, async (request, reply) => {
    const { userId } = guards.principalOf(request);
    if (!(await devices.revoke(userId, request.params.id))) throw new AppError("NOT_FOUND");
    await deps.emit("trusted_device_revoked", userId, { deviceId: request.params.id });
    return reply.code(204).send(null);
  });

  app.delete("/v1/me/devices", {
    preHandler: guards.user,
    schema: {
      tags: ["Me"],
      summary: "Revoke every trusted device",
      security: bearerSecurity,
      response: { 204: Type.Null({ description: "All revoked" }), ...problemResponsesFor("UNAUTHENTICATED", "UNAVAILABLE") },
    },
  }, async (request, reply) => {
    const { userId } = guards.principalOf(request);
    const count = await devices.revokeAll(userId);
    await deps.emit("trusted_device_revoked", userId, { all: true, count });
    return reply.code(204).send(null);
  });
}
