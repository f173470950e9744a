// What happens after a correct password, and the second step itself.
// Methods are revealed only after a correct password (checklist UE-05). The MFA
// challenge is consumed atomically before a session is minted, so concurrent
// correct codes mint at most one session.
import type { FastifyBaseLogger } from "fastify";
import { AppError } from "../errors.ts";
import { AMR } from "../lib/amr.ts";
import { sha256 } from "../lib/identifiers.ts";
import type { Clock } from "../lib/clock.ts";
import { amrOf, hasUsableAuthenticator, methodsOf, type CodeMethod } from "../lib/second-factors.ts";
import type { SessionService } from "../sessions/service.ts";
import type { AccessTokens } from "../sessions/access-tokens.ts";
import type { Principal } from "../sessions/service.ts";
import type { DeviceService } from "../devices/service.ts";
import type { FirstFactorSuccess } from "../sign-in/service.ts";
import type { LoginResult } from "../sign-in/schemas.ts";
import type { EmitEvent } from "../audit/events.ts";
import type { DeviceTrust, Grace } from "../companies/policy.ts";
import type { RequirementSource } from "../companies/schemas.ts";
import type { Challenge, ChallengeService, Enrollee } from "./challenges.ts";
import type { EnrollmentService } from "./enrollment.ts";
import type { MfaRepository } from "./repository.ts";
import type { SecondFactorChecker } from "./second-factor.ts";
import type { ClockDrift } from "./clock-drift.ts";

export interface VerifyInput {
  mfaToken: string;
  method: CodeMethod;
  code: string;
  rememberDevice?: boolean;
  deviceName?: string;
}

/** Company policy hooks: who must use 2SV, and since when a trusted device may skip it. */
export interface TwoStepPolicy {
  requirement(userId: string): Promise<{ requiredBy: RequirementSource[]; grace: Grace | null }>;
  /** Whether trusted devices may skip the second step for this person, and which ones still do. */
  deviceTrust(userId: string): Promise<DeviceTrust>;
}

const noPolicy: TwoStepPolicy = { requirement: async () => ({ requiredBy: [], grace: null }), deviceTrust: async () => ({ allowed: true }) };

export function createSecondStepService(deps: {
  mfa: MfaRepository;
  checker: SecondFactorChecker;
  challenges: ChallengeService;
  sessions: SessionService;
  accessTokens: AccessTokens;
  devices: DeviceService;
  enrollment: EnrollmentService;
  clock: Clock;
  stepUpTtlSeconds: number;
  policy?: TwoStepPolicy;
  onEvent: EmitEvent;
}) {
  const policy = deps.policy ?? noPolicy;

  /**
   * A session, and its audit rows in the session's own statement: the sign-in's
   * authn_login_success and whatever `alsoAnnounce` records about it.
   */
  async function authenticated(userId: string, amr: string[], authTime: Date, alsoAnnounce?: () => Promise<void>) {
    const pair = await deps.sessions.start(userId, amr, authTime, async (sessionId) => {
      await deps.onEvent("authn_login_success", userId, { amr, sessionId });
      await alsoAnnounce?.();
    });
    return { status: "authenticated" as const, accessToken: pair.accessToken, refreshToken: pair.refreshToken, expiresIn: pair.expiresIn, tokenType: "Bearer" as const };
  }

  type SignInState = Awaited<ReturnType<MfaRepository["signInState"]>>;
  type Passed = { challenge: Challenge; clockDrift?: ClockDrift };

  /**
   * The TOTP second step in two round trips before the session's own: one read
   * (challenge, failure state, factor), the code judged in memory, and one
   * conditional write that burns the step, consumes the challenge and clears the
   * failure count. A refusal counts the token's attempt first, as before.
   */
  async function passTotp(input: VerifyInput, log: FastifyBaseLogger): Promise<Passed> {
    const state = await deps.mfa.secondStepState(sha256(input.mfaToken));
    const challenge = deps.challenges.admit(state?.challenge ?? null, "mfa");
    const { userId } = challenge;
    const countAttempt = () => deps.challenges.attempt(input.mfaToken, "mfa");
    const accepted = await deps.checker.judgeTotp(userId, state!.totp, input.code, log, countAttempt);
    const now = deps.clock.now();
    const written = await deps.mfa.acceptTotpStep({
      factorId: accepted.factorId, step: accepted.step, driftStreak: accepted.driftStreak, userId,
      challenge: { id: challenge.id, now, maxAttempts: deps.challenges.maxAttempts },
    });
    if (!written.burned) {
      // Another request accepted this step in between: a replay, counted on the token like any refusal.
      await countAttempt();
      return deps.checker.refuseReplay(userId, log);
    }
    if (!written.consumed) {
      // The challenge went to a concurrent request (or hit its cap): counting names which, and refuses.
      await countAttempt();
      throw new AppError("INVALID_MFA_TOKEN", { logReason: "challenge_consumed_concurrently" });
    }
    return { challenge, ...(accepted.clockDrift ? { clockDrift: accepted.clockDrift } : {}) };
  }

  /** A recovery code: the attempt counted, the code spent, then the challenge consumed (each a conditional update). */
  async function passRecoveryCode(input: VerifyInput, log: FastifyBaseLogger): Promise<Passed> {
    const challenge = await deps.challenges.attempt(input.mfaToken, "mfa");
    await deps.checker.checkRecoveryCode(challenge.userId, input.code, log);
    if (!(await deps.challenges.consume(challenge.id))) throw new AppError("INVALID_MFA_TOKEN", { logReason: "challenge_consumed_concurrently" });
    return { challenge };
  }

  /** Each code method's check; the registry says which methods take a code. */
  const codeChecks: Record<CodeMethod, (input: VerifyInput, log: FastifyBaseLogger) => Promise<Passed>> = {
    totp: passTotp,
    recovery_code: passRecoveryCode,
  };

  /** A remembered device skips the second step only while an authenticator it stood in for is usable. */
  async function usableDevice(success: FirstFactorSuccess, state: SignInState): Promise<string | null> {
    if (!success.deviceToken || !hasUsableAuthenticator(state)) return null;
    const trust = await policy.deviceTrust(success.userId);
    if (!trust.allowed) return null;
    return deps.devices.recognise(success.deviceToken, success.userId, { issuedAfter: trust.validSince });
  }

  /** A person without a factor: a session, a session in the grace period, or enrollment first. */
  async function withoutFactor(success: FirstFactorSuccess, mandated: boolean): Promise<LoginResult> {
    if (!mandated) return authenticated(success.userId, success.amr, success.authTime);
    const { requiredBy, grace } = await policy.requirement(success.userId);
    if (requiredBy.length === 0) return authenticated(success.userId, success.amr, success.authTime);
    if (grace) {
      const session = await authenticated(success.userId, success.amr, success.authTime);
      return { ...session, enrollment: { requiredBy, deadline: grace.deadline.toISOString(), daysRemaining: grace.daysRemaining } };
    }
    const challenge = await deps.challenges.issue("enrollment", success.userId, success.amr, success.authTime);
    await deps.onEvent("mfa_enrollment_required", success.userId, { requiredBy: requiredBy.map((r) => r.companyId) });
    return { status: "mfa_enrollment_required", enrollmentToken: challenge.token, requiredBy, expiresIn: challenge.expiresIn };
  }

  /** The sign-in's next step after a correct first factor. */
  async function afterFirstFactor(success: FirstFactorSuccess, log: FastifyBaseLogger): Promise<LoginResult> {
    const state = await deps.mfa.signInState(success.userId);
    const methods = methodsOf(state);
    if (methods.length === 0) return withoutFactor(success, state.mandated);
    const deviceId = await usableDevice(success, state);
    if (deviceId) {
      await deps.onEvent("trusted_device_used", success.userId, { deviceId });
      log.info({ event: "authn_login_success", userId: success.userId, deviceId }, "second step skipped for a trusted device");
      return authenticated(success.userId, [...success.amr, "dt"], success.authTime);
    }
    const challenge = await deps.challenges.issue("mfa", success.userId, success.amr, success.authTime);
    return { status: "mfa_required", mfaToken: challenge.token, methods, expiresIn: challenge.expiresIn };
  }

  async function verify(input: VerifyInput, log: FastifyBaseLogger) {
    const { challenge, clockDrift } = await codeChecks[input.method](input, log);
    const { userId } = challenge;
    // mfa_verify_success is stored in the session's own statement, with authn_login_success.
    const session = await authenticated(userId, [...challenge.amr, amrOf(input.method), AMR.multiFactor], deps.clock.now(),
      () => deps.onEvent("mfa_verify_success", userId, { method: input.method }));
    const recoveryCodes = input.method === "recovery_code" ? await deps.enrollment.replaceUsedRecoveryCode(userId) : undefined;
    const mayRemember = input.rememberDevice && (await policy.deviceTrust(userId)).allowed;
    const name = input.deviceName ?? "Unnamed device";
    // The device row and trusted_device_issued commit together (devices.trust's unit of work).
    const device = mayRemember ? await deps.devices.trust(userId, name, (deviceId) => deps.onEvent("trusted_device_issued", userId, { deviceId, name })) : undefined;
    log.info({ event: "authn_login_success", userId, method: input.method, rememberDevice: Boolean(device) }, "second step passed");
    return { ...session, ...(device ? { deviceToken: device.deviceToken } : {}), ...(recoveryCodes ? { recoveryCodes } : {}), ...(clockDrift ? { clockDrift } : {}) };
  }

  /**
   * Step-up for the bank integration: a fresh TOTP code, never a trusted device
   * or a recovery code, gives a short-lived access token with amr otp and a new
   * auth_time (checklist SJ-15).
   */
  async function stepUp(principal: Principal, code: string, log: FastifyBaseLogger) {
    if (!(await deps.checker.activeFactor(principal.userId))) throw new AppError("BANK_INTEGRATION_REQUIRES_TOTP");
    await deps.checker.checkTotp(principal.userId, code, log);
    const amr = [...new Set([...principal.amr, AMR.otp, AMR.multiFactor])];
    const accessToken = await deps.accessTokens.issue(
      { userId: principal.userId, sessionId: principal.sessionId, amr, authTime: deps.clock.now() },
      deps.stepUpTtlSeconds,
    );
    await deps.onEvent("step_up_success", principal.userId);
    return { accessToken, expiresIn: deps.stepUpTtlSeconds, tokenType: "Bearer" as const };
  }

  /**
   * Forced enrollment: the enrollment token's holder confirms the authenticator
   * and receives the recovery code and, the enrollment token being spent, a session.
   */
  async function confirmEnrollment(enrollee: Enrollee, code: string, log: FastifyBaseLogger, options: { endOtherSessions?: boolean } = {}) {
    const challenge = await deps.challenges.attempt(enrollee.challengeToken, "enrollment");
    const { recoveryCodes, otherSessions } = await deps.enrollment.confirm(enrollee, code, log, options);
    if (!(await deps.challenges.consume(challenge.id))) throw new AppError("UNAUTHENTICATED", { logReason: "enrollment_consumed_concurrently" });
    const session = await authenticated(enrollee.userId, [...challenge.amr, AMR.otp, AMR.multiFactor], deps.clock.now());
    return { recoveryCodes, otherSessions, session };
  }

  return { afterFirstFactor, verify, stepUp, authenticated, confirmEnrollment };
}

export type SecondStepService = ReturnType<typeof createSecondStepService>;
