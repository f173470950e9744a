// The one way a password is checked: at sign-in and on every route that re-checks
// the current password (accounts.reauthenticate). So no route lets anyone guess
// faster than sign-in does (checklist RL-01..RL-05, PW-07, LA-01):
// 1. the address limit and the sign-in throttle admit the attempt, before any argon2 work;
// 2. the password is verified (a dummy verify for an unknown account: UE-01);
// 3. a failure counts on the throttle's counters *and* on the account's durable
//    consecutive count; at LOGIN_FAILURE_CAP the password is disabled until a
//    support unlock (NIST SP 800-63B-4 §3.2.2 SHALL, ≤ 100), and a disabled
//    password is answered like a wrong one (RL-07);
// 4. every failure is audited, and a success resets the counts (RL-05).
import { AppError, type ErrorCode } from "../errors.ts";
import type { Clock } from "../lib/clock.ts";
import type { PasswordHasher } from "../lib/passwords.ts";
import type { SignInThrottle } from "../rate-limit/sign-in-throttle.ts";
import type { EmitEvent } from "../audit/events.ts";
import type { Transaction } from "../db/database.ts";
import type { UserCredentials, UserRepository } from "./repository.ts";

export interface PasswordCheckDeps {
  users: UserRepository;
  hasher: PasswordHasher;
  throttle: SignInThrottle;
  failureCap: number;
  clock: Clock;
  emit: EmitEvent;
  /** The lock at the cap and its notification commit together (audit + outbox). */
  transaction: Transaction<{ users: Pick<UserRepository, "lockPassword"> }>;
  /** Whether a device token is a live trusted device of this user (devices feature). */
  isTrustedDevice: (deviceToken: string, userId: string) => Promise<boolean>;
}

export interface PasswordAttempt {
  /** The normalised email: the throttle's account. */
  account: string;
  /** Loaded once the address is admitted: no database work for a refused address. */
  loadUser: () => Promise<UserCredentials | null>;
  password: string;
  clientAddress: string;
  /** A trusted-device token that came with the attempt: exempts it from account-wide waits caused elsewhere (AV-08). */
  deviceToken?: string;
  /** The audit event of a failure (authn_login_fail, reauthentication_failed). */
  failureEvent: string;
  /** The problem a failure answers with. */
  refusal: ErrorCode;
}

export function createPasswordCheck(deps: PasswordCheckDeps) {
  const { users, hasher, throttle } = deps;

  async function verify(user: UserCredentials | null, password: string): Promise<boolean> {
    if (!user) {
      await hasher.verifyDummy(password);
      return false;
    }
    const ok = await hasher.verify(user.passwordHash, password);
    // A disabled password is checked all the same, so the answer takes as long as any other.
    return ok && user.passwordLockedAt === null;
  }

  /** Counts toward the hard cap; the call that reaches it disables the password and says so once. */
  async function countTowardCap(user: UserCredentials): Promise<number> {
    const consecutive = await users.addPasswordFailure(user.id);
    if (consecutive < deps.failureCap) return consecutive;
    await deps.transaction(async (tx) => {
      if (await tx.users.lockPassword(user.id, deps.clock.now())) {
        await deps.emit("authn_login_fail_max", user.id, { failures: consecutive, factor: "password" });
      }
    });
    return consecutive;
  }

  async function refuse(attempt: PasswordAttempt, user: UserCredentials | null): Promise<never> {
    const { failures, accountFailures, waitSeconds } = await throttle.recordFailure(attempt.account, attempt.clientAddress);
    const consecutive = user && !user.passwordLockedAt ? await countTowardCap(user) : null;
    const reason = user?.passwordLockedAt ? "password_disabled" : "invalid_credentials";
    await deps.emit(attempt.failureEvent, user?.id ?? null, { reason, failures, accountFailures, ...(consecutive ? { consecutive } : {}) });
    if (waitSeconds > 0) await deps.emit("authn_login_lock", user?.id ?? null, { waitSeconds, failures, accountFailures });
    throw new AppError(attempt.refusal, { logReason: reason, subjectUserId: user?.id });
  }

  /** Resolves when the password is right and usable; throws the attempt's refusal (or 429) otherwise. */
  return async function checkPassword(attempt: PasswordAttempt): Promise<UserCredentials> {
    await throttle.admitAddress(attempt.clientAddress);
    const user = await attempt.loadUser();
    const trustedDevice = Boolean(user && attempt.deviceToken && (await deps.isTrustedDevice(attempt.deviceToken, user.id)));
    const admitted = await throttle.admitAccount(attempt.account, attempt.clientAddress, { trustedDevice }).catch((error: unknown) => {
      // The audit of the 429 names the person it held (never shown to the caller).
      if (user && error instanceof AppError) throw new AppError(error.code, { ...error.options, subjectUserId: user.id });
      throw error;
    });
    if (!(await verify(user, attempt.password)) || !user) return refuse(attempt, user);
    await throttle.recordSuccess(attempt.account, attempt.clientAddress, admitted);
    if (user.passwordFailures > 0) await users.resetPasswordFailures(user.id);
    return user;
  };
}

export type CheckPassword = ReturnType<typeof createPasswordCheck>;
