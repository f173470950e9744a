// HTTP of push approval: the person's pairing routes, the sign-in page's push
// start and long poll, and the authenticator app's signed routes.
import { Type } from "typebox";
import type { FastifyRequest } from "fastify";
import { problemResponses } from "../http/problem.ts";
import { bearerSecurity, type App } from "../http/app-type.ts";
import { AppError } from "../errors.ts";
import { bearerToken } from "../http/guards.ts";
import type { AppGuards } from "../sessions/guards.ts";
import type { CookieTransport } from "../sessions/cookie-transport.ts";
import type { Enrollee } from "../mfa/challenges.ts";
import { createEnrolleeGuard } from "../mfa/enrollee-guard.ts";
import { APP_SIGNATURE_HEADER, type AppAuthenticator } from "./app-requests.ts";
import type { PairingActor, PairingService } from "./pairing.ts";
import type { PushService } from "./service.ts";
import {
  AnswerBodySchema, AnswerResultSchema, AppChallengeListSchema, AppChallengeParams, AuthenticatorParams, ChallengeParams, CompletePairingBodySchema,
  PairingCompletedSchema, PairingConfirmedSchema, PairingParams, PairingStartedSchema, PushAuthenticatorListSchema, PushOutcomeSchema,
  PushStartedSchema, StartPushBodySchema, WaitQuery,
} from "./schemas.ts";

export const appSignatureSecurity = [{ appSignature: [] }];

export function registerPushRoutes(app: App, deps: {
  guards: AppGuards;
  pairing: PairingService;
  push: PushService;
  apps: AppAuthenticator;
  findEnrollee: (token: string) => Promise<Enrollee | null>;
  /** Cookie mode for browsers: the approved answer's refresh token goes into the HttpOnly cookie. */
  transport: CookieTransport;
  /** The VAPID public key apps subscribe to Web Push with (RFC 8292), or null when Web Push is off. */
  vapidPublicKey?: string | null;
}) {
  const { guards, pairing, push } = deps;

  app.get("/v1/authenticator/web-push-key", {
    schema: {
      tags: ["Authenticator app"],
      summary: "The VAPID public key for subscribing to Web Push",
      description:
        "A browser or installed web app passes it as applicationServerKey to PushManager.subscribe() and hands the resulting " +
        "PushSubscription to the pairing as pushAddress {kind: \"webpush\", subscription}. 404 NOT_FOUND while Web Push is off.",
      security: [],
      response: {
        200: Type.Object(
          { publicKey: Type.String({ description: "The VAPID public key, base64url (uncompressed P-256 point, RFC 8292 §3.2)" }) },
          { additionalProperties: false, description: "The key to subscribe with" },
        ),
        ...problemResponses(404),
      },
    },
  }, async () => {
    if (!deps.vapidPublicKey) throw new AppError("NOT_FOUND", { detail: "Web Push is not configured on this service." });
    return { publicKey: deps.vapidPublicKey };
  });
  const { userOrEnrollee, enrolleeOf } = createEnrolleeGuard(guards, deps.findEnrollee);

  /** The pairing actor: its session (or enrollment challenge) is the one that must confirm. */
  function pairingActor(request: FastifyRequest): PairingActor {
    const enrollee = enrolleeOf(request);
    if (enrollee) return { ...enrollee, startedBy: `enrollment:${enrollee.challengeId}`, enrollee };
    const principal = guards.principalOf(request);
    return { ...principal, startedBy: `session:${principal.sessionId}` };
  }

  app.post("/v1/me/mfa/push-authenticators", {
    preHandler: userOrEnrollee,
    schema: {
      tags: ["Me"],
      summary: "Start pairing an authenticator app for push approval",
      description:
        "The same rule as TOTP enrollment: a recent password sign-in (not Mobile BankID or a remembered device), and the second step in this session " +
        "when a factor is already active. Also accepts an enrollment token. The app completes the pairing with POST /v1/authenticator/pairings; " +
        "nothing is active until this session confirms it.",
      security: bearerSecurity,
      response: { 200: PairingStartedSchema, ...problemResponses(401, 403) },
    },
  }, async (request) => pairing.start(pairingActor(request)));

  app.get("/v1/me/mfa/push-authenticators", {
    preHandler: guards.user,
    schema: {
      tags: ["Me"],
      summary: "Paired authenticator apps, and pairings waiting for confirmation",
      description: "A pairing the app completed shows the name the app gave: show it before confirming.",
      security: bearerSecurity,
      response: { 200: PushAuthenticatorListSchema, ...problemResponses(401) },
    },
  }, async (request) => ({ authenticators: await pairing.list(guards.principalOf(request).userId) }));

  app.post("/v1/me/mfa/push-authenticators/:pairingId/confirm", {
    preHandler: userOrEnrollee,
    schema: {
      tags: ["Me"],
      summary: "Confirm a pairing the app completed",
      description:
        "Only the session that started the pairing may confirm it. When it is the person's first factor, 2SV is on and the answer carries the " +
        "recovery code, shown only here; with an enrollment token, also the session.",
      security: bearerSecurity,
      params: PairingParams,
      response: { 200: PairingConfirmedSchema, ...problemResponses(400, 401, 403, 409) },
    },
  }, async (request) => pairing.confirm(pairingActor(request), request.params.pairingId));

  app.delete("/v1/me/mfa/push-authenticators/:id", {
    preHandler: guards.user,
    schema: {
      tags: ["Me"],
      summary: "Remove a paired authenticator app",
      description: "Needs a session that passed the second step. Removing the last factor turns 2SV off, and is refused (409) while a company policy requires 2SV.",
      security: bearerSecurity,
      params: AuthenticatorParams,
      response: { 204: Type.Null({ description: "Removed" }), ...problemResponses(400, 401, 403, 404, 409) },
    },
  }, async (request, reply) => {
    await pairing.remove(guards.principalOf(request), request.params.id);
    return reply.code(204).send(null);
  });

  app.post("/v1/auth/mfa/push", {
    schema: {
      tags: ["Sign-in"],
      summary: "Send a push challenge to the person's paired apps",
      description:
        "Bound to the MFA token, its person and sign-in; one pending challenge per person (a new one replaces it). Show numberToMatch: the person " +
        "types it in the app. After an unapproved push the next waits 10 s, doubling to 1 h (429 PUSH_TOO_SOON + Retry-After); after \"This wasn't me\" " +
        "pushes are paused (429 PUSH_BLOCKED). Counts an attempt of the MFA token.",
      body: StartPushBodySchema,
      response: { 200: PushStartedSchema, ...problemResponses(400, 401, 409, 413, 415, 429, 503) },
    },
  }, async (request) => push.start(request.body, { clientAddress: request.ip, userAgent: request.headers["user-agent"] ?? null }));

  app.get("/v1/auth/mfa/push/:challengeId", {
    schema: {
      tags: ["Sign-in"],
      summary: "Wait for the answer to a push challenge (long poll, MFA token as bearer)",
      description:
        "Waits up to waitSeconds (at most 25) and answers pending, rejected, expired, or, once approved, the authenticated answer (with a deviceToken " +
        "when rememberDevice was asked). The MFA token is consumed when the session is minted: a second collector gets 401. " +
        "In cookie mode (`x-session-transport: cookie`) the refresh token is set as the HttpOnly cookie instead of being returned.",
      security: bearerSecurity,
      params: ChallengeParams,
      querystring: WaitQuery,
      response: { 200: PushOutcomeSchema, ...problemResponses(400, 401, 404) },
    },
  }, async (request, reply) => {
    const token = bearerToken(request);
    if (!token) throw new AppError("INVALID_MFA_TOKEN");
    return deps.transport.deliver(request, reply, await push.waitForAnswer(request.params.challengeId, token, Number(request.query.waitSeconds ?? 0)));
  });

  app.post("/v1/authenticator/pairings", {
    schema: {
      tags: ["Authenticator app"],
      summary: "Complete a pairing with the app's public key and proof of possession",
      description: "Single use: the pairing token works once, within its lifetime. The key is stored with its RFC 7638 thumbprint and a pinned algorithm.",
      body: CompletePairingBodySchema,
      response: { 200: PairingCompletedSchema, ...problemResponses(400, 401, 409, 413, 415) },
    },
  }, async (request) => pairing.complete(request.body));

  app.get("/v1/authenticator/challenges", {
    schema: {
      tags: ["Authenticator app"],
      summary: "The app's pending challenges (long poll)",
      description:
        `Signed request: the ${APP_SIGNATURE_HEADER} header carries a JWS (typ app-request+jwt, kid = key thumbprint) of {htm, htu (the path), iat, jti}; ` +
        "iat within 120 s, jti single-use. Waits up to waitSeconds (at most 25) for a challenge.",
      security: appSignatureSecurity,
      querystring: WaitQuery,
      response: { 200: AppChallengeListSchema, ...problemResponses(400, 401) },
    },
  }, async (request) => {
    const signature = request.headers[APP_SIGNATURE_HEADER];
    const caller = await deps.apps.authenticateRequest(typeof signature === "string" ? signature : undefined, "GET", request.routeOptions.url ?? "");
    return push.listForApp(caller, Number(request.query.waitSeconds ?? 0));
  });

  app.post("/v1/authenticator/challenges/:id", {
    schema: {
      tags: ["Authenticator app"],
      summary: "Approve or reject a challenge with a JWS by the app's key",
      description:
        "Moves the challenge from pending exactly once (409 PUSH_NOT_PENDING afterwards). A replayed, late, foreign-key or other-challenge answer is refused " +
        "and changes nothing. A wrong number is a rejection and counts as a second-factor failure; reason not_me pauses pushes.",
      security: appSignatureSecurity,
      params: AppChallengeParams,
      body: AnswerBodySchema,
      response: { 200: AnswerResultSchema, ...problemResponses(400, 401, 404, 409, 413, 415) },
    },
  }, async (request) => push.answer(await deps.apps.appOf(request.body.answer), request.params.id, request.body.answer, request.log));
}
