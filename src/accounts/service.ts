// Accounts: creating users and changing passwords under the password policy of
// PRODUCT.md (NIST SP 800-63B-4 §3.1.1.2: length, blocklist, no composition rules).
import { AppError, type ErrorCode } from "../errors.ts";
import type { Clock } from "../lib/clock.ts";
import { normalizeEmail } from "../lib/identifiers.ts";
import { checkPasswordPolicy, type PasswordPolicy } from "../lib/password-policy.ts";
import type { PasswordHasher } from "../lib/passwords.ts";
import type { CheckPassword } from "./password-check.ts";
import type { SignInThrottle } from "../rate-limit/sign-in-throttle.ts";
import type { EmitEvent } from "../audit/events.ts";
import type { DeviceService } from "../devices/service.ts";
import type { SessionService } from "../sessions/service.ts";
import type { Transaction } from "../db/database.ts";
import type { DeviceRepository } from "../devices/repository.ts";
import type { SessionRepository } from "../sessions/repository.ts";
import type { UserRecord, UserRepository } from "./repository.ts";

/** The repositories an account change writes, with its event, in one unit of work. */
export type AccountWork = Transaction<{
  users: Pick<UserRepository, "updatePasswordHash" | "setDisabled" | "unlockPassword">;
  sessions: Pick<SessionRepository, "revokeAllForUser">;
  devices: Pick<DeviceRepository, "revokeAll">;
}>;

const policyErrors: Record<string, ErrorCode> = {
  password_too_short: "PASSWORD_TOO_SHORT",
  password_too_long: "PASSWORD_TOO_LONG",
  password_blocklisted: "PASSWORD_BLOCKLISTED",
  password_contains_context: "PASSWORD_CONTAINS_CONTEXT",
};

export interface AccountsDeps {
  users: UserRepository;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  serviceName: string;
  checkPassword: CheckPassword;
  throttle: Pick<SignInThrottle, "clearAccount">;
  /** The client address of the current request (audit request context). */
  clientAddress: () => string;
  clock: Clock;
  sessions: Pick<SessionService, "revokeAllForUser">;
  devices: Pick<DeviceService, "revokeAll">;
  emit: EmitEvent;
  /** A change, what it ends and its notification commit together (audit + outbox). */
  transaction: AccountWork;
  /** The names of the person's companies: a new password must not be one (ASVS 5.0 6.2.11). */
  companyNamesOf?: (userId: string) => Promise<string[]>;
}

export function createAccountsService(deps: AccountsDeps) {
  function assertPolicy(password: string, context: { email: string; name: string; extraWords?: string[] }) {
    const verdict = checkPasswordPolicy(password, deps.policy, { ...context, serviceName: deps.serviceName });
    if (!verdict.ok) throw new AppError(policyErrors[verdict.reason]!);
  }

  async function createUser(input: { email: string; password: string; name: string }): Promise<UserRecord> {
    const email = normalizeEmail(input.email);
    const name = input.name.trim().normalize("NFC");
    assertPolicy(input.password, { email, name });
    const passwordHash = await deps.hasher.hash(input.password);
    const user = await deps.users.insert({ email, name, passwordHash });
    if (!user) throw new AppError("EMAIL_TAKEN");
    return user;
  }

  /**
   * Re-checks a signed-in person's current password, the one way every route
   * that asks for it does (password change, turning 2SV off, removing an
   * authenticator): the sign-in throttle and hard cap apply, and each wrong
   * password is audited as reauthentication_failed (checklist PW-07, RL-01, LA-01).
   * A stolen session therefore guesses no faster than sign-in allows.
   */
  async function reauthenticate(userId: string, password: string, refusal: ErrorCode = "INVALID_CURRENT_PASSWORD"): Promise<UserRecord> {
    const found = await deps.users.findCredentialsById(userId);
    if (!found) throw new AppError("UNAUTHENTICATED");
    return deps.checkPassword({
      account: found.email, loadUser: async () => found, password, clientAddress: deps.clientAddress(),
      failureEvent: "reauthentication_failed", refusal,
    });
  }

  async function changePassword(userId: string, sessionId: string, currentPassword: string, newPassword: string) {
    const user = await reauthenticate(userId, currentPassword);
    // Registration knows no companies yet; by a password change the person may have some.
    const companyNames = (await deps.companyNamesOf?.(userId)) ?? [];
    assertPolicy(newPassword, { email: user.email, name: user.name, extraWords: companyNames });
    // Hashed before the unit of work: a transaction must not hold a connection through argon2.
    const passwordHash = await deps.hasher.hash(newPassword);
    // A new password ends every other session and forgets every trusted device,
    // so whoever knew the old one is out (ASVS 7.4.3); this session stays. The
    // change, the revocations and the notification commit together.
    const now = deps.clock.now();
    await deps.transaction(async (tx) => {
      await tx.users.updatePasswordHash(userId, passwordHash, now);
      await tx.sessions.revokeAllForUser(userId, "password_changed", now, sessionId);
      await tx.devices.revokeAll(userId, now);
      await deps.emit("password_changed", userId);
    });
  }

  /** A service client disables an account: every session ends and nothing signs in (SJ-09). */
  async function disable(userId: string): Promise<boolean> {
    const now = deps.clock.now();
    return deps.transaction(async (tx) => {
      if (!(await tx.users.setDisabled(userId, now))) return false;
      const sessionsEnded = await tx.sessions.revokeAllForUser(userId, "account_disabled", now);
      await deps.emit("account_disabled", userId, { sessionsEnded });
      return true;
    });
  }

  async function enable(userId: string): Promise<boolean> {
    if (!(await deps.users.setDisabled(userId, null))) return false;
    await deps.emit("account_enabled", userId);
    return true;
  }

  /** Support unlock after the hard cap: the password works again, and the person hears of it. */
  async function unlockPassword(userId: string): Promise<boolean> {
    const user = await deps.users.findById(userId);
    if (!user) return false;
    const result = await deps.transaction(async (tx) => {
      const unlocked = await tx.users.unlockPassword(userId);
      if (unlocked) await deps.emit("password_unlocked", userId, { wasLocked: unlocked.wasLocked });
      return unlocked;
    });
    if (!result) return false;
    // The counters may live in Redis, outside the transaction; clearing them twice is harmless.
    await deps.throttle.clearAccount(user.email);
    return true;
  }

  return {
    createUser,
    changePassword,
    reauthenticate,
    disable,
    enable,
    unlockPassword,
    findUser: (id: string) => deps.users.findById(id),
    exists: async (id: string) => Boolean(await deps.users.findById(id)),
    async assertActive(id: string) {
      if ((await deps.users.findCredentialsById(id))?.disabledAt) throw new AppError("ACCOUNT_DISABLED", { subjectUserId: id });
    },
  };
}

export type AccountsService = ReturnType<typeof createAccountsService>;
