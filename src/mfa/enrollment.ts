// Turning two-step verification on and off. Setting up TOTP is two-phase: a
// pending secret becomes active only when a correct code confirms it, and that
// code's time step is burned (checklist OTP-06). The seed is sealed with
// AES-256-GCM bound to user and factor (SR-02) and is returned only once.
import { randomUUID } from "node:crypto";
import type { FastifyBaseLogger } from "fastify";
import { AppError, type ErrorCode } from "../errors.ts";
import { isExternalSignIn, isPasswordSignIn, passedSecondStep } from "../lib/amr.ts";
import type { Clock } from "../lib/clock.ts";
import { hasAuthenticator } from "../lib/second-factors.ts";
import type { PasswordHasher } from "../lib/passwords.ts";
import { generateRecoveryCode } from "../lib/recovery-codes.ts";
import type { SecretBox } from "../lib/secret-box.ts";
import { generateTotpSecret, totpQrSvg, totpUri, verifyTotpCode } from "../lib/totp.ts";
import type { UserRepository } from "../accounts/repository.ts";
import type { EmitEvent } from "../audit/events.ts";
import type { Transaction } from "../db/database.ts";
import type { DeviceRepository } from "../devices/repository.ts";
import type { SessionService } from "../sessions/service.ts";
import type { MfaRepository } from "./repository.ts";
import { openSeed, seedAad, type SecondFactorChecker } from "./second-factor.ts";

/** Who is changing 2SV, and how they signed in. */
export interface Actor {
  userId: string;
  amr: string[];
  authTime: Date;
}

/** SJ-15: a sensitive change needs a second step passed within this long. */
const FRESH_SECOND_STEP_SECONDS = 300;

/**
 * Paired authenticator apps as the factor changes here see them (the push
 * feature's repository satisfies it): turning 2SV off and support reset remove them.
 */
export interface PairedAppRemoval {
  removeAllForUser(userId: string): Promise<number>;
}

export interface EnrollmentSettings {
  issuer: string;
  recoveryCodeCount: number;
  maxAuthAgeSeconds: number;
}

export function createEnrollmentService(deps: {
  mfa: MfaRepository;
  /** Changes to factors that also revoke trusted devices are one unit of work. */
  transaction: Transaction<{ mfa: MfaRepository; devices: DeviceRepository; pushAuthenticators: PairedAppRemoval }>;
  users: UserRepository;
  secretBox: SecretBox;
  hasher: PasswordHasher;
  checker: SecondFactorChecker;
  settings: EnrollmentSettings;
  clock: Clock;
  /** Refuses turning 2SV off while a company policy requires it (issue: company policy). */
  assertMayTurnOff: (userId: string) => Promise<void>;
  onEvent: EmitEvent;
  /** Ends every session of a user (support reset, factor change); counts the others. */
  sessions: Pick<SessionService, "revokeAllForUser" | "countOthers">;
  /** The accounts feature's one password re-check: sign-in throttle, hard cap, audit. */
  reauthenticate: (userId: string, password: string, refusal: ErrorCode) => Promise<unknown>;
}) {
  const { mfa, settings, clock } = deps;

  /** Factors (TOTP and paired apps), recovery codes and the failure count go, and with them every trusted device. */
  /** The factors go, and `event` is recorded in the same unit of work: both commit or neither. */
  async function removeAllFactors(userId: string, event: string) {
    const now = clock.now();
    await deps.transaction(async (tx) => {
      await tx.mfa.removeSecondFactors(userId);
      await tx.pushAuthenticators.removeAllForUser(userId);
      await tx.devices.revokeAll(userId, now);
      await deps.onEvent(event, userId);
    });
  }

  /**
   * The help article: 2SV is enabled only after a password sign-in, never from
   * Mobile BankID or a remembered device; and recently (ASVS 7.5.1). Replacing
   * or adding to an active authenticator (TOTP or a paired app) also needs this
   * session to have passed the second step. Pairing a push app follows the same rule.
   */
  async function assertMayChange(actor: Actor) {
    if (!isPasswordSignIn(actor.amr)) throw new AppError("PASSWORD_SIGN_IN_REQUIRED");
    if (clock.now().getTime() - actor.authTime.getTime() > settings.maxAuthAgeSeconds * 1000) throw new AppError("REAUTHENTICATION_REQUIRED");
    if (hasAuthenticator(await mfa.signInState(actor.userId)) && !passedSecondStep(actor.amr)) throw new AppError("SECOND_FACTOR_REQUIRED");
  }

  async function newRecoveryCodes(count: number) {
    const codes = Array.from({ length: count }, generateRecoveryCode);
    const hashes = await Promise.all(codes.map((c) => deps.hasher.hash(c.secret)));
    return { display: codes.map((c) => c.code), hashes };
  }

  async function start(actor: Actor) {
    await assertMayChange(actor);
    const user = await deps.users.findById(actor.userId);
    if (!user) throw new AppError("UNAUTHENTICATED");
    const factorId = randomUUID();
    const secret = generateTotpSecret();
    const sealed = deps.secretBox.seal(secret, seedAad(actor.userId, factorId));
    await deps.transaction((tx) => tx.mfa.savePendingFactor({ id: factorId, userId: actor.userId, secretCiphertext: sealed.ciphertext, encryptionKeyId: sealed.keyId }));
    const otpauthUri = totpUri({ issuer: settings.issuer, accountName: user.email, secret });
    return { secret, otpauthUri, qrSvg: await totpQrSvg(otpauthUri) };
  }

  /**
   * A factor change offers to end the other sessions (ASVS 7.4.3): with
   * endOtherSessions they end now, otherwise the answer says how many remain.
   */
  async function confirm(actor: Actor & { sessionId?: string }, code: string, log: FastifyBaseLogger, options: { endOtherSessions?: boolean } = {}) {
    await assertMayChange(actor);
    const pending = await mfa.findFactor(actor.userId, "pending");
    if (!pending) throw new AppError("NO_PENDING_ENROLLMENT");
    const secret = openSeed(deps.secretBox, pending, log);
    const result = secret === null ? ({ valid: false, reason: "seed_unreadable" } as const) : await verifyTotpCode({ secret, code, at: clock.now(), lastUsedStep: null });
    if (!result.valid) {
      log.info({ event: "mfa_enroll_confirm_failed", reason: result.reason, userId: actor.userId }, "confirmation code refused");
      throw new AppError("ENROLLMENT_CODE_INVALID");
    }
    const recovery = await newRecoveryCodes(settings.recoveryCodeCount);
    // The new factor replaces the old one, its recovery codes and every trusted device, together (OTP-06).
    const now = clock.now();
    const activated = await deps.transaction(async (tx) => {
      const done = await tx.mfa.activateFactor({ factorId: pending.id, userId: actor.userId, step: result.step, now, recoveryCodeHashes: recovery.hashes });
      if (done) {
        await tx.devices.revokeAll(actor.userId, now);
        // In the unit of work: the notification commits with the factor (outbox).
        await deps.onEvent("mfa_enrolled", actor.userId);
      }
      return done;
    });
    if (!activated) throw new AppError("NO_PENDING_ENROLLMENT");
    if (options.endOtherSessions) {
      const ended = await deps.sessions.revokeAllForUser(actor.userId, "factor_changed", actor.sessionId);
      await deps.onEvent("other_sessions_ended", actor.userId, { ended, reason: "factor_changed" });
    }
    return { recoveryCodes: recovery.display, otherSessions: await deps.sessions.countOthers(actor) };
  }

  /**
   * Password and code, and one answer whichever is wrong (401
   * INVALID_CURRENT_CREDENTIALS): the reply must not confirm a guessed password.
   * A second-factor wait is refused before the password is looked at, for the same reason.
   */
  async function turnOff(actor: Actor, password: string, code: string, log: FastifyBaseLogger) {
    if (isExternalSignIn(actor.amr)) throw new AppError("PASSWORD_SIGN_IN_REQUIRED");
    await deps.assertMayTurnOff(actor.userId);
    if (!(await deps.checker.activeFactor(actor.userId))) throw new AppError("TOTP_NOT_ENROLLED");
    await deps.checker.assertNotWaiting(actor.userId);
    await deps.reauthenticate(actor.userId, password, "INVALID_CURRENT_CREDENTIALS");
    try {
      await deps.checker.checkTotp(actor.userId, code, log);
    } catch (error) {
      if (error instanceof AppError && error.code === "INVALID_CODE") {
        throw new AppError("INVALID_CURRENT_CREDENTIALS", { logReason: error.options.logReason, subjectUserId: actor.userId });
      }
      throw error;
    }
    await removeAllFactors(actor.userId, "mfa_disabled");
  }

  /**
   * RC-08, SJ-15: new recovery codes need a session whose second step was
   * passed within 5 minutes (never a remembered device's) and a current code;
   * every earlier code and every trusted device goes with them (DT-05).
   */
  async function regenerateRecoveryCodes(actor: Actor, code: string, log: FastifyBaseLogger) {
    if (isExternalSignIn(actor.amr)) throw new AppError("PASSWORD_SIGN_IN_REQUIRED");
    if (!(await deps.checker.activeFactor(actor.userId))) throw new AppError("TOTP_NOT_ENROLLED");
    if (!passedSecondStep(actor.amr)) throw new AppError("SECOND_FACTOR_REQUIRED");
    if (clock.now().getTime() - actor.authTime.getTime() > FRESH_SECOND_STEP_SECONDS * 1000) throw new AppError("REAUTHENTICATION_REQUIRED");
    await deps.checker.checkTotp(actor.userId, code, log);
    const recovery = await newRecoveryCodes(settings.recoveryCodeCount);
    const now = clock.now();
    await deps.transaction(async (tx) => {
      await tx.mfa.replaceRecoveryCodes(actor.userId, recovery.hashes, now);
      await tx.devices.revokeAll(actor.userId, now);
      await deps.onEvent("recovery_codes_replaced", actor.userId);
    });
    return { recoveryCodes: recovery.display };
  }

  /** One replacement per used code, so the person is never left without one. */
  async function replaceUsedRecoveryCode(userId: string) {
    const recovery = await newRecoveryCodes(1);
    await mfa.addRecoveryCodes(userId, recovery.hashes, clock.now());
    await deps.onEvent("recovery_code_replaced", userId);
    return recovery.display;
  }

  /** Support reset for a lost phone: factors, recovery codes, trusted devices and sessions go. */
  async function supportReset(userId: string): Promise<boolean> {
    if (!(await deps.users.findById(userId))) return false;
    await removeAllFactors(userId, "mfa_reset_by_support");
    await deps.sessions.revokeAllForUser(userId, "mfa_support_reset");
    return true;
  }

  return { start, confirm, turnOff, regenerateRecoveryCodes, replaceUsedRecoveryCode, supportReset, assertMayChange, newRecoveryCodes };
}

export type EnrollmentService = ReturnType<typeof createEnrollmentService>;
