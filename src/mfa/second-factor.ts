// Checking a second factor for a user, with the per-user failure rules:
// - after MFA_FREE_FAILURES consecutive failures each further one imposes a wait
//   doubling from 30 s up to MFA_MAX_WAIT_SECONDS (NIST SP 800-63B-4 §3.2.2 MAY);
// - at MFA_FAILURE_CAP consecutive failures the TOTP factor is disabled
//   (§3.2.2 SHALL, ≤ 100): a recovery code or a support reset is then needed;
// - a success resets the count (§3.2.2 SHOULD).
// These counters are separate from the password throttle, so a password
// attacker cannot lock a person out of the second step.
// Wrong, replayed and expired codes give one outward answer; the log says which
// (checklist UE-06).
import type { FastifyBaseLogger } from "fastify";
import { AppError } from "../errors.ts";
import type { Clock } from "../lib/clock.ts";
import type { PasswordHasher } from "../lib/passwords.ts";
import { normalizeRecoveryCode } from "../lib/recovery-codes.ts";
import { SecretBoxError, type SecretBox } from "../lib/secret-box.ts";
import { verifyTotpCode } from "../lib/totp.ts";
import type { EmitEvent } from "../audit/events.ts";
import type { PendingWrites, Transaction } from "../db/database.ts";
import type { MfaRepository, TotpFactorRecord, TotpState } from "./repository.ts";
import { clockDriftOf, nextDriftStreak, type ClockDrift } from "./clock-drift.ts";

export interface SecondFactorSettings {
  freeFailures: number;
  maxWaitSeconds: number;
  failureCap: number;
}

const FIRST_WAIT_SECONDS = 30;

export function mfaWaitAfter(failures: number, settings: SecondFactorSettings): number {
  const beyond = failures - settings.freeFailures;
  return beyond <= 0 ? 0 : Math.min(FIRST_WAIT_SECONDS * 2 ** Math.min(beyond - 1, 20), settings.maxWaitSeconds);
}

/** The seed's associated data binds the ciphertext to its user and factor (checklist SR-02). */
export const seedAad = (userId: string, factorId: string) => `totp:${userId}:${factorId}`;

/**
 * The seed, or null when it cannot be decrypted (a key missing from
 * ENCRYPTION_KEYS, or a row that was tampered with: AAD binds it to its user and
 * factor). That is a server fault, not a guess: logged loudly, not counted.
 */
export function openSeed(secretBox: SecretBox, factor: TotpFactorRecord, log: FastifyBaseLogger): string | null {
  try {
    return secretBox.open(factor.secretCiphertext, factor.encryptionKeyId, seedAad(factor.userId, factor.id));
  } catch (error) {
    if (!(error instanceof SecretBoxError)) throw error;
    log.error({ event: "totp_seed_unreadable", userId: factor.userId, factorId: factor.id, keyId: factor.encryptionKeyId }, "TOTP seed cannot be decrypted");
    return null;
  }
}

/** A TOTP code judged right, not yet written: the caller's conditional write burns `step`. */
export interface AcceptedTotp {
  factorId: string;
  step: number;
  /** The new drift streak, when it changed. */
  driftStreak?: number;
  clockDrift?: ClockDrift;
}

export function createSecondFactorChecker(deps: {
  mfa: MfaRepository;
  secretBox: SecretBox;
  hasher: PasswordHasher;
  settings: SecondFactorSettings;
  clock: Clock;
  onEvent: EmitEvent;
  /** A failure count (or a spent recovery code) and its events commit together (audit + outbox). */
  transaction: Transaction<{ mfa: Pick<MfaRepository, "addFailure" | "blockUntil" | "disableActiveFactor"> }>;
  /** Takes the request's pending rows (audit's takePendingWrites), written with the recovery code's spend in its one statement. */
  takePendingWrites?: () => PendingWrites;
}) {
  const { mfa, settings, clock } = deps;
  const emit = deps.onEvent;

  function assertNotBlocked(userId: string, blockedUntil: Date | null | undefined) {
    const now = clock.now();
    if (blockedUntil && blockedUntil > now) {
      const seconds = Math.ceil((blockedUntil.getTime() - now.getTime()) / 1000);
      throw new AppError("RATE_LIMITED", { retryAfterSeconds: seconds, logReason: "second_factor_wait", subjectUserId: userId });
    }
  }

  /** Refuses inside a wait; returns the consecutive failures on record. */
  async function assertNotWaiting(userId: string): Promise<number> {
    const state = await mfa.failureState(userId);
    assertNotBlocked(userId, state.blockedUntil);
    return state.failures;
  }

  /** A success resets the count; the write is skipped when there is nothing to reset. */
  async function resetFailures(userId: string, failures: number) {
    if (failures > 0) await mfa.clearFailures(userId);
  }

  /** One more consecutive failure: waits, the cap, events. Push rejections count here too. */
  async function countFailure(userId: string, reason: string, log: FastifyBaseLogger): Promise<void> {
    const { failures, wait } = await deps.transaction(async (tx) => {
      const counted = await tx.mfa.addFailure(userId);
      const waitSeconds = mfaWaitAfter(counted, settings);
      if (waitSeconds > 0) await tx.mfa.blockUntil(userId, new Date(clock.now().getTime() + waitSeconds * 1000));
      if (counted === settings.failureCap) {
        await tx.mfa.disableActiveFactor(userId, clock.now());
        await emit("mfa_locked", userId, { failures: counted, factor: "totp" });
      }
      await emit("mfa_verify_fail", userId, { reason, failures: counted });
      return { failures: counted, wait: waitSeconds };
    });
    if (failures === settings.failureCap) log.warn({ event: "authn_login_lock", userId, failures }, "second factor disabled after consecutive failures");
    log.info({ event: "mfa_failed", reason, userId, failures, waitSeconds: wait }, "second factor refused");
  }

  async function recordFailure(userId: string, reason: string, log: FastifyBaseLogger): Promise<never> {
    await countFailure(userId, reason, log);
    throw new AppError("INVALID_CODE", { logReason: reason });
  }

  /**
   * A code that was right for a step already accepted: a replay (LA-06), audited
   * and notified (mfa_verify_fail, reason totp_replay) but not counted toward the wait. Counting it would let the
   * losers of a concurrent race on one correct code (a double submit, several
   * tabs) put the person who just signed in into a wait; and a replay is no
   * guess: it needs a code that was valid, and teaches nothing new.
   */
  async function refuseReplay(userId: string, log: FastifyBaseLogger): Promise<never> {
    await emit("mfa_verify_fail", userId, { reason: "totp_replay", counted: false });
    log.info({ event: "mfa_failed", reason: "totp_replay", userId }, "second factor refused: code already used");
    throw new AppError("INVALID_CODE", { logReason: "totp_replay" });
  }

  async function activeFactor(userId: string): Promise<TotpFactorRecord | null> {
    const factor = await mfa.findFactor(userId, "active");
    return factor && !factor.disabledAt ? factor : null;
  }

  /**
   * Judges a TOTP code on a state read beforehand (repository totpState or
   * secondStepState), writing nothing when it is right: the caller burns the
   * step in its own conditional write. Every refusal runs `beforeRefusal` first
   * (the second step counts the MFA token's attempt there, and its refusal wins).
   */
  async function judgeTotp(
    userId: string, state: TotpState | null, code: string, log: FastifyBaseLogger, beforeRefusal: () => Promise<unknown> = async () => {},
  ): Promise<AcceptedTotp> {
    if (state?.blockedUntil && state.blockedUntil > clock.now()) {
      await beforeRefusal();
      assertNotBlocked(userId, state.blockedUntil);
    }
    const factor = state?.factor && !state.factor.disabledAt ? state.factor : null;
    if (!factor) {
      await beforeRefusal();
      return recordFailure(userId, "totp_not_active", log);
    }
    const secret = openSeed(deps.secretBox, factor, log);
    if (secret === null) {
      await beforeRefusal();
      throw new AppError("INVALID_CODE", { logReason: "totp_seed_unreadable" });
    }
    const result = await verifyTotpCode({ secret, code, at: clock.now(), lastUsedStep: factor.lastUsedStep });
    if (!result.valid) {
      await beforeRefusal();
      return result.reason === "replay" ? refuseReplay(userId, log) : recordFailure(userId, `totp_${result.reason}`, log);
    }
    const driftStreak = nextDriftStreak(factor.driftStreak, result.step, clock.now());
    const clockDrift = clockDriftOf(driftStreak);
    return {
      factorId: factor.id, step: result.step,
      ...(driftStreak !== factor.driftStreak ? { driftStreak } : {}),
      ...(clockDrift ? { clockDrift } : {}),
    };
  }

  /**
   * Verifies a TOTP code and burns its time step; throws INVALID_CODE otherwise.
   * Answers the clock-drift hint when accepted codes keep coming from a neighbouring step.
   */
  async function checkTotp(userId: string, code: string, log: FastifyBaseLogger): Promise<{ clockDrift?: ClockDrift }> {
    const state = await mfa.totpState(userId);
    const accepted = await judgeTotp(userId, state, code, log);
    // Another request may have accepted this step in between: the conditional update decides.
    if (!(await mfa.burnStep(accepted.factorId, accepted.step, accepted.driftStreak))) return refuseReplay(userId, log);
    await resetFailures(userId, state!.failures);
    return accepted.clockDrift ? { clockDrift: accepted.clockDrift } : {};
  }

  /** Verifies and spends a recovery code; throws INVALID_CODE otherwise. */
  async function checkRecoveryCode(userId: string, input: string, log: FastifyBaseLogger): Promise<void> {
    const failures = await assertNotWaiting(userId);
    const secret = normalizeRecoveryCode(input);
    if (!secret) return recordFailure(userId, "recovery_code_malformed", log);
    for (const candidate of await mfa.unusedRecoveryCodes(userId)) {
      if (!(await deps.hasher.verify(candidate.codeHash, secret))) continue;
      // Recorded before the write and stored by it (one statement), only if this request spent the code.
      const earlier = deps.takePendingWrites?.();
      let spent: boolean;
      try {
        await emit("recovery_code_used", userId);
        spent = await mfa.spendRecoveryCode(candidate.id, clock.now(), { earlier, announced: deps.takePendingWrites?.() });
      } catch (error) {
        await earlier?.restore();
        throw error;
      }
      if (!spent) return recordFailure(userId, "recovery_code_replay", log);
      await resetFailures(userId, failures);
      return;
    }
    return recordFailure(userId, "recovery_code_invalid", log);
  }

  return {
    checkTotp,
    judgeTotp,
    refuseReplay,
    checkRecoveryCode,
    activeFactor,
    assertNotWaiting,
    countFailure,
    /** A success by another method (a push approval) resets the count too. */
    clearFailures: (userId: string) => mfa.clearFailures(userId),
  };
}

export type SecondFactorChecker = ReturnType<typeof createSecondFactorChecker>;
