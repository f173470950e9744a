// HTTP of push approval: the person's pairing routes, the sign-in page's push
// start and long poll, and the authenticator app's signed routes.
import { Type } from "typebox";
import type { FastifyRequest } from "fastify";
import { problemResponsesFor } from "../http/problem.ts";
import { ref, withExample, withExamples } from "../http/components.ts";
import { signInExamples } from "../sign-in/schemas.ts";
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
  PushStartedSchema, StartPushBodySchema, WaitQuery, pushOutcomeExamples,
} from "./schemas.ts";

export const appSignatureSecurity = [{ appSignature: [] }];

/** Who may start or confirm a pairing, and why not (the enrollment rule; an enrollment token has its attempts). */
const ENROLLER = ["UNAUTHENTICATED", "MFA_TOKEN_EXHAUSTED", "PASSWORD_SIGN_IN_REQUIRED", "REAUTHENTICATION_REQUIRED", "SECOND_FACTOR_REQUIRED"] as const;

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
        200: withExample(Type.Object(
          { publicKey: Type.String({ description: "The VAPID public key, base64url (uncompressed P-256 point, RFC 8292 §3.2)" }) },
          { additionalProperties: false, description: "The key to subscribe with" },
        ), "The VAPID key", { publicKey: "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM" }),
        ...problemResponsesFor("NOT_FOUND"),
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
      response: {
        200: withExample(PairingStartedSchema, "A pairing waiting for the app", {
          pairingId: "9e8d7c6b-5a49-4382-a1b0-c9d8e7f6a5b4",
          pairingUri: "idpush://pair?v=1&url=https%3A%2F%2Fid.example.com&token=pt_Qm9uZXN0bHlSYW5kb20&issuer=Bookkeeping%20%26%20Invoicing",
          qrSvg: "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 41 41\">…</svg>",
          expiresIn: 240,
        }),
        ...problemResponsesFor(...ENROLLER, "UNAVAILABLE"),
      },
    },
  }, async (request) => pairing.start(pairingActor(request)));

  app.get("/v1/me/mfa/push-authenticators", {
    preHandler: guards.user,
    schema: {
      tags: ["Me"],
      summary: "Paired authenticator apps, and pairings waiting for confirmation",
      description: "A pairing the app completed shows the name the app gave: show it before confirming.",
      security: bearerSecurity,
      response: {
        200: withExample(PushAuthenticatorListSchema, "One paired app, one waiting for confirmation", { authenticators: [
          { id: "3b2a1c0d-9e8f-4a7b-b6c5-d4e3f2a1b0c9", name: "Anna's iPhone", status: "active", algorithm: "ES256", pairedAt: "2026-11-20T09:00:00.000Z", lastUsedAt: "2026-12-01T07:58:00.000Z" },
          { id: "9e8d7c6b-5a49-4382-a1b0-c9d8e7f6a5b4", name: "Work Android", status: "awaiting_confirmation", algorithm: "EdDSA", pairedAt: "2026-12-01T08:30:00.000Z", lastUsedAt: null },
        ] }),
        ...problemResponsesFor("UNAUTHENTICATED", "UNAVAILABLE"),
      },
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
      response: {
        200: withExamples(PairingConfirmedSchema, {
          another: { summary: "Paired beside another factor", value: { id: "9e8d7c6b-5a49-4382-a1b0-c9d8e7f6a5b4" } },
          first: { summary: "The first factor: 2SV is on, with its recovery code", value: { id: "9e8d7c6b-5a49-4382-a1b0-c9d8e7f6a5b4", recoveryCodes: ["K7QX-2M9D-PL4W-8HTE"] } },
          enrolled: { summary: "With an enrollment token: the session too", value: { id: "9e8d7c6b-5a49-4382-a1b0-c9d8e7f6a5b4", recoveryCodes: ["K7QX-2M9D-PL4W-8HTE"], session: signInExamples.authenticated.value } },
        }),
        ...problemResponsesFor(...ENROLLER, "NO_PAIRING_TO_CONFIRM", "NOT_FOUND", "UNAVAILABLE"),
      },
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
      response: {
        204: Type.Null({ description: "Removed" }),
        ...problemResponsesFor("UNAUTHENTICATED", "SECOND_FACTOR_REQUIRED", "REAUTHENTICATION_REQUIRED", "NOT_FOUND", "TWO_STEP_REQUIRED_BY_POLICY", "UNAVAILABLE"),
      },
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
      security: [],
      body: StartPushBodySchema,
      response: {
        200: withExample(PushStartedSchema, "Sent: show the number", { challengeId: "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f", expiresIn: 120, numberToMatch: "47" }),
        ...problemResponsesFor("INVALID_MFA_TOKEN", "MFA_TOKEN_EXHAUSTED", "PUSH_NOT_PAIRED", "PUSH_TOO_SOON", "PUSH_BLOCKED", "RATE_LIMITED", "UNAVAILABLE"),
      },
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
      response: {
        200: withExamples(ref(PushOutcomeSchema), pushOutcomeExamples),
        ...problemResponsesFor("INVALID_MFA_TOKEN", "MFA_TOKEN_EXHAUSTED", "NOT_FOUND", "ACCOUNT_DISABLED", "UNAVAILABLE"),
      },
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
      security: [],
      body: CompletePairingBodySchema,
      response: {
        200: withExample(PairingCompletedSchema, "Registered: the person confirms next", { pairingId: "9e8d7c6b-5a49-4382-a1b0-c9d8e7f6a5b4", thumbprint: "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", status: "awaiting_confirmation" }),
        ...problemResponsesFor("PAIRING_TOKEN_INVALID", "PAIRING_PROOF_INVALID", "UNSUPPORTED_APP_KEY", "APP_KEY_IN_USE", "UNAVAILABLE"),
      },
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
      response: {
        200: withExample(AppChallengeListSchema, "One sign-in to approve", { challenges: [{
          id: "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f", service: "Bookkeeping & Invoicing", requestedAt: "2026-12-01T08:31:02.000Z", expiresAt: "2026-12-01T08:33:02.000Z",
          clientAddress: "203.0.113.7", browser: "Firefox 133", os: "macOS", numberRequired: true, contextHash: "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5",
        }] }),
        ...problemResponsesFor("INVALID_APP_SIGNATURE", "UNAVAILABLE"),
      },
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
      response: {
        200: withExamples(AnswerResultSchema, {
          approved: { summary: "Approved", value: { status: "approved" } },
          rejected: { summary: "Rejected: the wrong number was typed", value: { status: "rejected", reason: "wrong_number" } },
        }),
        ...problemResponsesFor("INVALID_APP_SIGNATURE", "NOT_FOUND", "PUSH_NOT_PENDING", "PUSH_CONTEXT_MISMATCH", "UNAVAILABLE"),
      },
    },
  }, async (request) => push.answer(await deps.apps.appOf(request.body.answer), request.params.id, request.body.answer, request.log));
}
