import { Type } from "typebox";
import { problemResponses } from "../http/problem.ts";
import { apiKeySecurity, bearerSecurity, type App } from "../http/app-type.ts";
import type { AppGuards } from "../sessions/guards.ts";
import { ChangePasswordBodySchema, CreateUserBodySchema, UserSchema, type UserView } from "./schemas.ts";
import type { UserRecord } from "./repository.ts";
import type { AccountsService } from "./service.ts";
import { AppError } from "../errors.ts";

export function toUserView(user: UserRecord): UserView {
  return { id: user.id, email: user.email, name: user.name, createdAt: user.createdAt.toISOString() };
}

export interface MeExtensions {
  /** Adds the `security` (and later `companies`) parts of GET /v1/me. */
  schemaProperties: Record<string, ReturnType<typeof Type.Object> | ReturnType<typeof Type.Array>>;
  load(userId: string): Promise<Record<string, unknown>>;
}

export function registerAccountRoutes(app: App, deps: { accounts: AccountsService; guards: AppGuards; me?: MeExtensions }) {
  const { accounts, guards } = deps;

  app.post("/v1/users", {
    preHandler: guards.client("users:write"),
    schema: {
      tags: ["Users"],
      summary: "Create a user (service clients with users:write)",
      security: apiKeySecurity,
      body: CreateUserBodySchema,
      response: { 201: UserSchema, ...problemResponses(400, 401, 403, 409, 413, 415, 503) },
    },
  }, async (request, reply) => {
    const user = await accounts.createUser(request.body);
    return reply.code(201).send(toUserView(user));
  });

  const MeSchema = Type.Object(
    { ...UserSchema.properties, ...(deps.me?.schemaProperties ?? {}) },
    { additionalProperties: false, description: "The signed-in person" },
  );

  app.get("/v1/me", {
    preHandler: guards.user,
    schema: {
      tags: ["Me"],
      summary: "The signed-in person's profile",
      security: bearerSecurity,
      response: { 200: MeSchema, ...problemResponses(401) },
    },
  }, async (request) => {
    const { userId } = guards.principalOf(request);
    const user = await accounts.findUser(userId);
    if (!user) throw new AppError("UNAUTHENTICATED");
    return { ...toUserView(user), ...(deps.me ? await deps.me.load(userId) : {}) };
  });

  app.post("/v1/me/password", {
    preHandler: guards.user,
    schema: {
      tags: ["Me"],
      summary: "Change the password",
      description: "Needs the current password. Ends every other session and revokes trusted devices; this session stays.",
      security: bearerSecurity,
      body: ChangePasswordBodySchema,
      response: { 204: Type.Null({ description: "Changed" }), ...problemResponses(400, 401, 413, 415, 429, 503) },
    },
  }, async (request, reply) => {
    const { userId, sessionId } = guards.principalOf(request);
    await accounts.changePassword(userId, sessionId, request.body.currentPassword, request.body.newPassword);
    return reply.code(204).send(null);
  });
}
