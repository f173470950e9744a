import { Type } from "typebox";
import { problemResponses } from "../http/problem.ts";
import { apiKeySecurity, bearerSecurity, type App } from "../http/app-type.ts";
import type { KeyRing } from "../lib/signing-keys.ts";
import { AppError } from "../errors.ts";
import { bearerToken } from "../http/guards.ts";
import type { FastifyRequest } from "fastify";
import type { CookieTransport } from "./cookie-transport.ts";
import type { AppGuards } from "./guards.ts";
import {
  EndedSessionsSchema, IntrospectBodySchema, IntrospectionSchema, JwksSchema, RefreshBodySchema, SessionIdParamsSchema, SessionListSchema, TokenPairSchema,
} from "./schemas.ts";
import type { SessionService } from "./service.ts";
import { apiKeyHash, clientOf } from "../clients/service.ts";

export function registerSessionRoutes(app: App, deps: { sessions: SessionService; guards: AppGuards; keys: KeyRing; transport: CookieTransport }) {
  const { sessions, guards, keys, transport } = deps;

  /** The refresh token: from the cookie in cookie mode (never the body), from the body otherwise. */
  function presentedRefreshToken(request: FastifyRequest, body: { refreshToken?: string }): string {
    if (transport.cookieMode(request)) {
      if (body.refreshToken !== undefined) throw new AppError("VALIDATION_FAILED", { detail: "In cookie mode the refresh token comes from the cookie." });
      const token = transport.cookieToken(request);
      if (!token) throw new AppError("INVALID_REFRESH_TOKEN", { logReason: "no_cookie" });
      return token;
    }
    if (body.refreshToken === undefined) throw new AppError("VALIDATION_FAILED", { detail: "refreshToken is required." });
    return body.refreshToken;
  }

  /** Logout's caller: the bearer's session, or in cookie mode the refresh cookie's. */
  async function signOutCaller(request: FastifyRequest) {
    if (bearerToken(request) || !transport.cookieMode(request)) {
      await guards.user(request);
      return sessions.logout(guards.principalOf(request));
    }
    const token = transport.cookieToken(request);
    if (!token || !(await sessions.logoutByRefreshToken(token))) throw new AppError("UNAUTHENTICATED");
  }

  app.post("/v1/auth/refresh", {
    schema: {
      tags: ["Sessions"],
      summary: "Exchange a refresh token for a new token pair",
      description:
        "The presented token is spent and a new one issued. Presented again within the grace period " +
        "(REFRESH_REUSE_GRACE_SECONDS, 30 s), it is the same client racing itself and gets a new pair of its own; " +
        "later, it is reuse and revokes its whole session. In cookie mode (`x-session-transport: cookie`, from an " +
        "allowed Origin) the token comes from the `__Host-refresh_token` cookie, the body is `{}`, and the new token is " +
        "set as that cookie instead of being returned. " +
        "A disabled account gets 403 ACCOUNT_DISABLED.",
      body: RefreshBodySchema,
      response: { 200: TokenPairSchema, ...problemResponses(400, 401, 403, 413, 415, 503) },
    },
  }, async (request, reply) => {
    const pair = await sessions.refresh(presentedRefreshToken(request, request.body));
    const answer = { status: "authenticated" as const, accessToken: pair.accessToken, refreshToken: pair.refreshToken, expiresIn: pair.expiresIn, tokenType: "Bearer" as const };
    return transport.deliver(request, reply, answer);
  });

  app.post("/v1/auth/logout", {
    preHandler: signOutCaller,
    schema: {
      tags: ["Sessions"],
      summary: "Sign out: revoke this session and its refresh tokens",
      description:
        "The session of the bearer access token. In cookie mode (`x-session-transport: cookie`, from an allowed Origin) " +
        "the refresh cookie names the session when no bearer token is sent, and the cookie is cleared.",
      security: bearerSecurity,
      response: { 204: Type.Null({ description: "Signed out" }), ...problemResponses(400, 401, 403) },
    },
  }, async (request, reply) => {
    if (transport.cookieMode(request)) transport.clear(reply);
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
    // The API key is checked in the handler, read in the same statement as the
    // token's session (one round trip); nothing is answered before it is admitted.
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
    const apiKey = guards.apiKeyOf(request);
    if (!apiKey) throw new AppError("INVALID_CLIENT");
    const { clientRow, access } = await sessions.introspectAccessTokenFor(apiKeyHash(apiKey), token);
    guards.admitClient(request, clientOf(clientRow), "tokens:introspect");
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
