// Accounts: creating users and changing passwords under the password policy of
// PRODUCT.md (NIST SP 800-63B-4 §3.1.1.2: length, blocklist, no composition rules).
import { AppError, type ErrorCode } from "../errors.ts";
import type { Clock } from "../lib/clock.ts";
import { normalizeEmail } from "../lib/identifiers.ts";
import { checkPasswordPolicy, type PasswordPolicy } from "../lib/password-policy.ts";
import type { PasswordHasher } from "../lib/passwords.ts";
import type { SignInThrottle } from "../rate-limit/sign-in-throttle.ts";
import type { EmitEvent } from "../audit/events.ts";
import type { DeviceService } from "../devices/service.ts";
import type { SessionService } from "../sessions/service.ts";
import type { UserRecord, UserRepository } from "./repository.ts";

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
  throttle: SignInThrottle;
  clock: Clock;
  sessions: Pick<SessionService, "revokeAllForUser">;
  devices: Pick<DeviceService, "revokeAll">;
  emit: EmitEvent;
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

  async function changePassword(userId: string, sessionId: string, currentPassword: string, newPassword: string) {
    const user = await deps.users.findCredentialsById(userId);
    if (!user) throw new AppError("UNAUTHENTICATED");
    await deps.throttle.admitAccount(user.email);
    if (!(await deps.hasher.verify(user.passwordHash, currentPassword))) {
      // A wrong current password is a guess like any other (checklist PW-07).
      await deps.throttle.recordFailure(user.email);
      throw new AppError("INVALID_CURRENT_PASSWORD");
    }
    // Registration knows no companies yet; by a password change the person may have some.
    const companyNames = (await deps.companyNamesOf?.(userId)) ?? [];
    assertPolicy(newPassword, { email: user.email, name: user.name, extraWords: companyNames });
    await deps.users.updatePasswordHash(userId, await deps.hasher.hash(newPassword), deps.clock.now());
    await endOtherAccess(userId, sessionId);
  }

  /**
   * A new password ends every other session and forgets every trusted device,
   * so whoever knew the old one is out (ASVS 7.4.3); this session stays.
   */
  async function endOtherAccess(userId: string, keepSessionId: string) {
    await deps.sessions.revokeAllForUser(userId, "password_changed", keepSessionId);
    await deps.devices.revokeAll(userId);
    await deps.emit("password_changed", userId);
  }

  return {
    createUser,
    changePassword,
    findUser: (id: string) => deps.users.findById(id),
    exists: async (id: string) => Boolean(await deps.users.findById(id)),
  };
}

export type AccountsService = ReturnType<typeof createAccountsService>;
