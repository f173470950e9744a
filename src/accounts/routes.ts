import { Type } from "typebox";
import { problemResponses } from "../http/problem.ts";
import { apiKeySecurity, bearerSecurity, type App } from "../http/app-type.ts";
import type { AppGuards } from "../sessions/guards.ts";
import { ChangePasswordBodySchema, CreateUserBodySchema, UserIdSchema, UserSchema, type UserView } from "./schemas.ts";
import type { UserRecord } from "./repository.ts";
import type { AccountsService } from "./service.ts";
import { AppError } from "../errors.ts";

export function toUserView(user: UserRecord): UserView {
  return { id: user.id, email: user.email, name: user.name, createdAt: user.createdAt.toISOString() };
}

export interface MeExtensions {
  /** Adds the `security` (and later `companies`) parts of GET /v1/me. */
  schemaProperties: Record<string, ReturnType<typeof Type.Object> | ReturnType<typeof Type.Array>>;
  /** The person and those parts, read together (one round trip); null when the person is gone. */
  load(userId: string): Promise<{ user: UserRecord; parts: Record<string, unknown> } | null>;
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

  const UserIdParams = Type.Object({ id: UserIdSchema }, { additionalProperties: false });
  const supportActions: Array<{ path: string; summary: string; description: string; run: (id: string) => Promise<boolean> }> = [
    {
      path: "disable",
      summary: "Disable an account (scope users:write)",
      description: "Ends every session. Until enabled, password, external and refresh sign-ins are refused with 403 ACCOUNT_DISABLED (told only after a correct password).",
      run: accounts.disable,
    },
    { path: "enable", summary: "Enable a disabled account (scope users:write)", description: "Sign-in works again; ended sessions stay ended.", run: accounts.enable },
    {
      path: "unlock",
      summary: "Unlock a password disabled by the failure cap (scope users:write)",
      description: "After LOGIN_FAILURE_CAP consecutive wrong passwords the password no longer signs in (NIST SP 800-63B-4 §3.2.2). This clears the count; the person is notified.",
      run: accounts.unlockPassword,
    },
  ];
  for (const action of supportActions) {
    app.post(`/v1/users/:id/${action.path}`, {
      preHandler: guards.client("users:write"),
      schema: {
        tags: ["Users"],
        summary: action.summary,
        description: action.description,
        security: apiKeySecurity,
        params: UserIdParams,
        response: { 204: Type.Null({ description: "Done" }), ...problemResponses(400, 401, 403, 404) },
      },
    }, async (request, reply) => {
      if (!(await action.run(request.params.id))) throw new AppError("NOT_FOUND");
      return reply.code(204).send(null);
    });
  }

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
    if (deps.me) {
      const found = await deps.me.load(userId);
      if (!found) throw new AppError("UNAUTHENTICATED");
      return { ...toUserView(found.user), ...found.parts };
    }
    const user = await accounts.findUser(userId);
    if (!user) throw new AppError("UNAUTHENTICATED");
    return toUserView(user);
  });

  app.post("/v1/me/password", {
    preHandler: guards.user,
    schema: {
      tags: ["Me"],
      summary: "Change the password",
      description:
        "Needs the current password, checked like a sign-in: a wrong one is 401 INVALID_CURRENT_PASSWORD and counts toward the sign-in waits (429 + Retry-After) and the failure cap. " +
        "Ends every other session and revokes trusted devices; this session stays.",
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
