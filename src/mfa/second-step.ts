// What happens after a correct password, and the second step itself.
// Methods are revealed only after a correct password (checklist UE-05). The MFA
// challenge is consumed atomically before a session is minted, so concurrent
// correct codes mint at most one session.
import type { FastifyBaseLogger } from "fastify";
import { AppError } from "../errors.ts";
import type { Clock } from "../lib/clock.ts";
import type { SessionService } from "../sessions/service.ts";
import type { AccessTokens } from "../sessions/access-tokens.ts";
import type { Principal } from "../sessions/service.ts";
import type { DeviceService } from "../devices/service.ts";
import type { FirstFactorSuccess } from "../sign-in/service.ts";
import type { LoginResult } from "../sign-in/schemas.ts";
import type { ChallengeService } from "./challenges.ts";
import type { EnrollmentService } from "./enrollment.ts";
import type { MfaRepository } from "./repository.ts";
import type { SecondFactorChecker } from "./second-factor.ts";

export type SecondFactorMethod = "totp" | "recovery_code";

export interface VerifyInput {
  mfaToken: string;
  method: SecondFactorMethod;
  code: string;
  rememberDevice?: boolean;
  deviceName?: string;
}

/** Policy hooks: who must use 2SV, and since when a trusted device may skip it. */
export interface TwoStepPolicy {
  /** Non-null when a policy requires 2SV of a user who has no factor: the enrollment answer. */
  enrollmentRequired(userId: string, success: FirstFactorSuccess): Promise<LoginResult | null>;
  /** Trusted devices issued before this date no longer skip the second step. */
  devicesValidSince(userId: string): Promise<Date | undefined>;
}

const noPolicy: TwoStepPolicy = { enrollmentRequired: async () => null, devicesValidSince: async () => undefined };

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
  onEvent: (event: string, userId: string, details?: Record<string, unknown>) => void;
}) {
  const policy = deps.policy ?? noPolicy;

  async function authenticated(userId: string, amr: string[], authTime: Date) {
    const pair = await deps.sessions.start(userId, amr, authTime);
    return { status: "authenticated" as const, accessToken: pair.accessToken, refreshToken: pair.refreshToken, expiresIn: pair.expiresIn, tokenType: "Bearer" as const };
  }

  async function availableMethods(userId: string): Promise<SecondFactorMethod[]> {
    const [factor, recoveryCodes] = await Promise.all([deps.checker.activeFactor(userId), deps.mfa.countUnusedRecoveryCodes(userId)]);
    return [...(factor ? (["totp"] as const) : []), ...(recoveryCodes > 0 ? (["recovery_code"] as const) : [])];
  }

  async function usableDevice(success: FirstFactorSuccess, methods: SecondFactorMethod[]): Promise<string | null> {
    if (!success.deviceToken || !methods.includes("totp")) return null;
    const issuedAfter = await policy.devicesValidSince(success.userId);
    return deps.devices.recognise(success.deviceToken, success.userId, { issuedAfter });
  }

  /** The sign-in's next step after a correct first factor. */
  async function afterFirstFactor(success: FirstFactorSuccess, log: FastifyBaseLogger): Promise<LoginResult> {
    const methods = await availableMethods(success.userId);
    if (methods.length === 0) {
      const enrollment = await policy.enrollmentRequired(success.userId, success);
      return enrollment ?? authenticated(success.userId, success.amr, success.authTime);
    }
    const deviceId = await usableDevice(success, methods);
    if (deviceId) {
      deps.onEvent("trusted_device_used", success.userId, { deviceId });
      log.info({ event: "authn_login_success", userId: success.userId, deviceId }, "second step skipped for a trusted device");
      return authenticated(success.userId, [...success.amr, "dt"], success.authTime);
    }
    const challenge = await deps.challenges.issue("mfa", success.userId, success.amr, success.authTime);
    return { status: "mfa_required", mfaToken: challenge.token, methods, expiresIn: challenge.expiresIn };
  }

  async function verify(input: VerifyInput, log: FastifyBaseLogger) {
    const challenge = await deps.challenges.attempt(input.mfaToken, "mfa");
    const { userId } = challenge;
    if (input.method === "totp") await deps.checker.checkTotp(userId, input.code, log);
    else await deps.checker.checkRecoveryCode(userId, input.code, log);
    if (!(await deps.challenges.consume(challenge.id))) throw new AppError("INVALID_MFA_TOKEN", { logReason: "challenge_consumed_concurrently" });

    const factorAmr = input.method === "totp" ? "otp" : "rec";
    const session = await authenticated(userId, [...challenge.amr, factorAmr, "mfa"], deps.clock.now());
    const recoveryCodes = input.method === "recovery_code" ? await deps.enrollment.replaceUsedRecoveryCode(userId) : undefined;
    const device = input.rememberDevice ? await deps.devices.trust(userId, input.deviceName ?? "Unnamed device") : undefined;
    if (device) deps.onEvent("trusted_device_issued", userId, { deviceId: device.deviceId });
    log.info({ event: "authn_login_success", userId, method: input.method, rememberDevice: Boolean(device) }, "second step passed");
    return { ...session, ...(device ? { deviceToken: device.deviceToken } : {}), ...(recoveryCodes ? { recoveryCodes } : {}) };
  }

  /**
   * Step-up for the bank integration: a fresh TOTP code, never a trusted device
   * or a recovery code, gives a short-lived access token with amr otp and a new
   * auth_time (checklist SJ-15).
   */
  async function stepUp(principal: Principal, code: string, log: FastifyBaseLogger) {
    if (!(await deps.checker.activeFactor(principal.userId))) throw new AppError("BANK_INTEGRATION_REQUIRES_TOTP");
    await deps.checker.checkTotp(principal.userId, code, log);
    const amr = [...new Set([...principal.amr, "otp", "mfa"])];
    const accessToken = await deps.accessTokens.issue(
      { userId: principal.userId, sessionId: principal.sessionId, amr, authTime: deps.clock.now() },
      deps.stepUpTtlSeconds,
    );
    deps.onEvent("step_up", principal.userId);
    return { accessToken, expiresIn: deps.stepUpTtlSeconds, tokenType: "Bearer" as const };
  }

  return { afterFirstFactor, verify, stepUp, authenticated };
}

export type SecondStepService = ReturnType<typeof createSecondStepService>;
