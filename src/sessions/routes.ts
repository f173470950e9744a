import { Type } from "typebox";
import { problemResponses } from "../http/problem.ts";
import { apiKeySecurity, bearerSecurity, type App } from "../http/app-type.ts";
import type { KeyRing } from "../lib/signing-keys.ts";
import type { AppGuards } from "./guards.ts";
import {
  EndedSessionsSchema, IntrospectBodySchema, IntrospectionSchema, JwksSchema, RefreshBodySchema, SessionIdParamsSchema, SessionListSchema, TokenPairSchema,
} from "./schemas.ts";
import { AppError } from "../errors.ts";
import type { SessionService } from "./service.ts";

export function registerSessionRoutes(app: App, deps: { sessions: SessionService; guards: AppGuards; keys: KeyRing }) {
  const { sessions, guards, keys } = deps;

  app.post("/v1/auth/refresh", {
    schema: {
      tags: ["Sessions"],
      summary: "Exchange a refresh token for a new token pair",
      description:
        "The presented token is spent. Presenting a spent token again revokes its whole session (reuse detection). " +
        "A disabled account gets 403 ACCOUNT_DISABLED.",
      body: RefreshBodySchema,
      response: { 200: TokenPairSchema, ...problemResponses(400, 401, 403, 413, 415, 503) },
    },
  }, async (request) => {
    const pair = await sessions.refresh(request.body.refreshToken);
    return { status: "authenticated" as const, accessToken: pair.accessToken, refreshToken: pair.refreshToken, expiresIn: pair.expiresIn, tokenType: "Bearer" as const };
  });

  app.post("/v1/auth/logout", {
    preHandler: guards.user,
    schema: {
      tags: ["Sessions"],
      summary: "Sign out: revoke this session and its refresh tokens",
      security: bearerSecurity,
      response: { 204: Type.Null({ description: "Signed out" }), ...problemResponses(401) },
    },
  }, async (request, reply) => {
    await sessions.logout(guards.principalOf(request));
    return reply.code(204).send(null);
  });

  app.get("/v1/me/sessions", {
    preHandler: guards.user,
    schema: {
      tags: ["Me"],
      summary: "List my live sessions",
      description: "Each with when and where it began, its last use and how the person authenticated; `current` marks this one (checklist SJ-09).",
      security: bearerSecurity,
      response: { 200: SessionListSchema, ...problemResponses(401) },
    },
  }, async (request) => {
    const rows = await sessions.list(guards.principalOf(request));
    return { sessions: rows.map((r) => ({ ...r, createdAt: r.createdAt.toISOString(), lastUsedAt: r.lastUsedAt.toISOString() })) };
  });

  app.delete("/v1/me/sessions/:id", {
    preHandler: guards.user,
    schema: {
      tags: ["Me"],
      summary: "End one of my sessions",
      description: "Needs a recent sign-in (ENROLL_MAX_AUTH_AGE_SECONDS, else 403 REAUTHENTICATION_REQUIRED). Its refresh and access tokens stop working. Another person's session id is 404.",
      security: bearerSecurity,
      params: SessionIdParamsSchema,
      response: { 204: Type.Null({ description: "Ended" }), ...problemResponses(400, 401, 403, 404) },
    },
  }, async (request, reply) => {
    if (!(await sessions.endOne(guards.principalOf(request), request.params.id))) throw new AppError("NOT_FOUND");
    return reply.code(204).send(null);
  });

  app.delete("/v1/me/sessions", {
    preHandler: guards.user,
    schema: {
      tags: ["Me"],
      summary: "End all my other sessions",
      description: "Every session but this one ends. Needs a recent sign-in (ENROLL_MAX_AUTH_AGE_SECONDS, else 403 REAUTHENTICATION_REQUIRED).",
      security: bearerSecurity,
      response: { 200: EndedSessionsSchema, ...problemResponses(401, 403) },
    },
  }, async (request) => ({ ended: await sessions.endOthers(guards.principalOf(request)) }));

  app.post("/v1/tokens/introspect", {
    preHandler: guards.client("tokens:introspect"),
    schema: {
      tags: ["Tokens"],
      summary: "Introspect an access or refresh token (RFC 7662)",
      description: "Revocation-aware: a token whose session was revoked or expired is inactive. Scope tokens:introspect.",
      security: apiKeySecurity,
      body: IntrospectBodySchema,
      response: { 200: IntrospectionSchema, ...problemResponses(400, 401, 403) },
    },
  }, async (request) => {
    const { token } = request.body;
    const access = await sessions.introspectAccessToken(token);
    if (access) {
      const { payload } = access;
      return {
        active: true,
        token_type: "access_token" as const,
        sub: access.principal.userId,
        sid: access.principal.sessionId,
        amr: access.principal.amr,
        auth_time: Math.floor(access.principal.authTime.getTime() / 1000),
        iss: payload.iss,
        aud: typeof payload.aud === "string" ? payload.aud : payload.aud?.[0],
        iat: payload.iat,
        exp: payload.exp,
        jti: payload.jti,
      };
    }
    const session = await sessions.introspectRefreshToken(token);
    if (session) {
      return {
        active: true,
        token_type: "refresh_token" as const,
        sub: session.userId,
        sid: session.id,
        amr: session.amr,
        auth_time: Math.floor(session.authTime.getTime() / 1000),
        exp: Math.floor(session.expiresAt.getTime() / 1000),
      };
    }
    return { active: false };
  });

  app.get("/.well-known/jwks.json", {
    schema: {
      tags: ["Tokens"],
      summary: "Public keys that verify this service's tokens",
      response: { 200: JwksSchema },
    },
  }, async (_request, reply) => {
    reply.header("cache-control", "public, max-age=300");
    return keys.jwks();
  });
}
