import { Type } from "typebox";
import { problemResponses } from "../http/problem.ts";
import { apiKeySecurity, bearerSecurity, type App } from "../http/app-type.ts";
import { AppError } from "../errors.ts";
import type { AppGuards } from "../sessions/guards.ts";
import type { CookieTransport } from "../sessions/cookie-transport.ts";
import type { Enrollee } from "./challenges.ts";
import { createEnrolleeGuard } from "./enrollee-guard.ts";
import type { EnrollmentService } from "./enrollment.ts";
import type { SecondStepService } from "./second-step.ts";
import type { SecurityStateReader } from "./security-state.ts";
import {
  ConfirmBodySchema,
  TotpConfirmBodySchema, ConfirmResultSchema, DisableBodySchema, RecoveryCodesSchema, SecurityStateSchema,
  StepUpBodySchema, StepUpResultSchema, TotpEnrollmentSchema, VerifyBodySchema, VerifyResultSchema,
} from "./schemas.ts";

const UserIdParams = Type.Object({ id: Type.String({ format: "uuid", description: "User id" }) }, { additionalProperties: false });

export function registerMfaRoutes(app: App, deps: {
  guards: AppGuards;
  enrollment: EnrollmentService;
  secondStep: SecondStepService;
  securityState: SecurityStateReader;
  /** The enrollee an enrollment token names, or null (MFA challenges). */
  findEnrollee: (token: string) => Promise<Enrollee | null>;
  /** Cookie mode: where a session's refresh token goes. */
  transport: CookieTransport;
}) {
  const { guards, enrollment, secondStep, transport } = deps;
  const { userOrEnrollee, enrolleeOf, actorOf } = createEnrolleeGuard(guards, deps.findEnrollee);

  app.post("/v1/me/mfa/totp", {
    preHandler: userOrEnrollee,
    schema: {
      tags: ["Me"],
      summary: "Start setting up an authenticator app (TOTP)",
      description:
        "Needs a recent password sign-in (not Mobile BankID or a remembered device: PASSWORD_SIGN_IN_REQUIRED; too old: REAUTHENTICATION_REQUIRED). " +
        "Replacing an active authenticator also needs a session that passed the second step. Nothing is active until confirmed. " +
        "Also accepts the enrollment token of a mandatory-2SV sign-in as the bearer token.",
      security: bearerSecurity,
      response: { 200: TotpEnrollmentSchema, ...problemResponses(401, 403) },
    },
  }, async (request) => enrollment.start(actorOf(request)));

  app.post("/v1/me/mfa/totp/confirm", {
    preHandler: userOrEnrollee,
    schema: {
      tags: ["Me"],
      summary: "Confirm the authenticator with its first code; returns the recovery code once",
      description:
        "The confirming code's time step is burned: it cannot sign in. Replaces any earlier authenticator, recovery codes and trusted devices. " +
        "With an enrollment token the answer also carries the session (in cookie mode its refresh token is set as the cookie). " +
        "A factor change offers to end the other sessions: `endOtherSessions: true` ends them; the answer's `otherSessions` counts those that remain.",
      security: bearerSecurity,
      body: TotpConfirmBodySchema,
      response: { 200: ConfirmResultSchema, ...problemResponses(400, 401, 403, 409) },
    },
  }, async (request, reply) => {
    const enrollee = enrolleeOf(request);
    const options = { endOtherSessions: request.body.endOtherSessions ?? false };
    if (!enrollee) return enrollment.confirm(guards.principalOf(request), request.body.code, request.log, options);
    return transport.deliver(request, reply, await secondStep.confirmEnrollment(enrollee, request.body.code, request.log, options));
  });

  app.delete("/v1/me/mfa/totp", {
    preHandler: guards.user,
    schema: {
      tags: ["Me"],
      summary: "Turn two-step verification off",
      description: "Needs the password and a current code, checked like a sign-in (its waits and failure cap apply); a wrong password or a wrong code is one answer, 401 INVALID_CURRENT_CREDENTIALS. Refused (409 TWO_STEP_REQUIRED_BY_POLICY) while a company policy requires 2SV. Removes recovery codes, paired authenticator apps and trusted devices.",
      security: bearerSecurity,
      body: DisableBodySchema,
      response: { 204: Type.Null({ description: "Turned off" }), ...problemResponses(400, 401, 403, 409, 429) },
    },
  }, async (request, reply) => {
    await enrollment.turnOff(guards.principalOf(request), request.body.password, request.body.code, request.log);
    return reply.code(204).send(null);
  });

  app.post("/v1/me/mfa/recovery-codes", {
    preHandler: guards.user,
    schema: {
      tags: ["Me"],
      summary: "Issue new recovery codes (a current authenticator code is required)",
      description:
        "Needs a session whose second step was passed within 5 minutes (not a remembered device: 403 SECOND_FACTOR_REQUIRED; older: " +
        "403 REAUTHENTICATION_REQUIRED) and a current authenticator code. Every earlier recovery code stops working and every trusted device is revoked.",
      security: bearerSecurity,
      body: ConfirmBodySchema,
      response: { 200: RecoveryCodesSchema, ...problemResponses(400, 401, 403, 409, 429) },
    },
  }, async (request) => enrollment.regenerateRecoveryCodes(guards.principalOf(request), request.body.code, request.log));

  app.post("/v1/auth/mfa/verify", {
    schema: {
      tags: ["Sign-in"],
      summary: "Complete sign-in with the second step (authenticator code or recovery code)",
      description:
        "Wrong, reused and expired codes get one answer (401 INVALID_CODE). At most 5 attempts per MFA token (then MFA_TOKEN_EXHAUSTED); " +
        "consecutive failures per person lead to waits (429 + Retry-After) and, at the cap, disable the authenticator. " +
        "A recovery code answers with its replacement. rememberDevice returns a deviceToken. " +
        "In cookie mode (`x-session-transport: cookie`) the refresh token is set as an HttpOnly cookie instead of being returned.",
      body: VerifyBodySchema,
      response: { 200: VerifyResultSchema, ...problemResponses(400, 401, 403, 413, 415, 429, 503) },
    },
    // No per-address limit here: every MFA token needs a password sign-in (which
    // is limited per address and per account) and allows 5 attempts, and the
    // person's consecutive failures are capped across all tokens.
  }, async (request, reply) => transport.deliver(request, reply, await secondStep.verify(request.body, request.log)));

  app.post("/v1/auth/step-up", {
    preHandler: guards.user,
    schema: {
      tags: ["Sign-in"],
      summary: "Step up with a fresh authenticator code (bank integration)",
      description:
        "Returns a short-lived access token with amr including otp and a fresh auth_time. Only TOTP counts: trusted devices and recovery codes never do. " +
        "A person without an authenticator app gets 403 BANK_INTEGRATION_REQUIRES_TOTP.",
      security: bearerSecurity,
      body: StepUpBodySchema,
      response: { 200: StepUpResultSchema, ...problemResponses(400, 401, 403, 429) },
    },
  }, async (request) => secondStep.stepUp(guards.principalOf(request), request.body.code, request.log));

  app.delete("/v1/users/:id/mfa", {
    preHandler: guards.client("users:mfa-reset"),
    schema: {
      tags: ["Users"],
      summary: "Support reset of two-step verification (lost phone)",
      description: "Removes the authenticator, recovery codes and trusted devices, and ends every session. Scope users:mfa-reset.",
      security: apiKeySecurity,
      params: UserIdParams,
      response: { 204: Type.Null({ description: "Reset" }), ...problemResponses(400, 401, 403, 404) },
    },
  }, async (request, reply) => {
    if (!(await enrollment.supportReset(request.params.id))) throw new AppError("NOT_FOUND");
    request.log.info({ event: "mfa_reset_by_support", userId: request.params.id, clientId: guards.clientOf(request)?.id }, "support reset");
    return reply.code(204).send(null);
  });

  app.get("/v1/users/:id/security", {
    preHandler: guards.client("users:read"),
    schema: {
      tags: ["Users"],
      summary: "A user's two-step verification state",
      description: "Includes whether 2SV is required and by which company policies, and whether the bank integration is available (TOTP active). Scope users:read.",
      security: apiKeySecurity,
      params: UserIdParams,
      response: { 200: SecurityStateSchema, ...problemResponses(400, 401, 403, 404) },
    },
  }, async (request) => {
    const state = await deps.securityState.securityState(request.params.id);
    if (!state) throw new AppError("NOT_FOUND");
    return state;
  });
}
