// Password sign-in, as a sequence of named steps. Unknown email and wrong
// password are one outcome: the same problem, after the same argon2 work
// (a dummy verify for the unknown email), and the same failure counter keyed on
// the normalised email whether or not it exists (checklist UE-01..UE-03).
import type { FastifyBaseLogger } from "fastify";
import { AppError } from "../errors.ts";
import type { Clock } from "../lib/clock.ts";
import { normalizeEmail } from "../lib/identifiers.ts";
import type { PasswordHasher } from "../lib/passwords.ts";
import type { UserCredentials, UserRepository } from "../accounts/repository.ts";
import type { SignInThrottle } from "../rate-limit/sign-in-throttle.ts";
import type { EmitEvent } from "../audit/events.ts";
import type { LoginResult } from "./schemas.ts";

export interface FirstFactorSuccess {
  userId: string;
  amr: string[];
  authTime: Date;
  deviceToken?: string;
}

/** What follows a correct first factor: a session, a second step, or enrollment. */
export type NextStep = (success: FirstFactorSuccess, log: FastifyBaseLogger) => Promise<LoginResult>;

export interface SignInDeps {
  users: UserRepository;
  hasher: PasswordHasher;
  throttle: SignInThrottle;
  maxPasswordLength: number;
  clock: Clock;
  nextStep: NextStep;
  emit: EmitEvent;
}

export function createSignInService(deps: SignInDeps) {
  async function checkPassword(account: string, password: string): Promise<{ user: UserCredentials | null; ok: boolean }> {
    const user = await deps.users.findCredentialsByEmail(account);
    if (!user) {
      await deps.hasher.verifyDummy(password);
      return { user: null, ok: false };
    }
    return { user, ok: await deps.hasher.verify(user.passwordHash, password) };
  }

  async function refuse(account: string, userId: string | null, log: FastifyBaseLogger): Promise<never> {
    const { failures, waitSeconds } = await deps.throttle.recordFailure(account);
    log.info({ event: "authn_login_fail", failures, userId }, "sign-in failed");
    await deps.emit("authn_login_fail", userId, { reason: "invalid_credentials", failures });
    if (waitSeconds > 0) await deps.emit("authn_login_lock", userId, { waitSeconds, failures });
    throw new AppError("INVALID_CREDENTIALS");
  }

  /** Raises stored hashes to the current argon2 parameters while the password is at hand. */
  async function rehashIfWeaker(user: UserCredentials, password: string, log: FastifyBaseLogger) {
    if (!deps.hasher.needsRehash(user.passwordHash)) return;
    await deps.users.updatePasswordHash(user.id, await deps.hasher.hash(password));
    log.info({ userId: user.id }, "password hash upgraded to current parameters");
  }

  async function login(input: { email: string; password: string; deviceToken?: string }, clientAddress: string, log: FastifyBaseLogger) {
    const account = normalizeEmail(input.email);
    if ([...input.password.normalize("NFC")].length > deps.maxPasswordLength) throw new AppError("PASSWORD_TOO_LONG");
    await deps.throttle.admitAddress(clientAddress);
    const admission = await deps.throttle.admitAccount(account);
    const { user, ok } = await checkPassword(account, input.password);
    if (!user || !ok) return refuse(account, user?.id ?? null, log);
    await deps.throttle.recordSuccess(account, admission);
    await rehashIfWeaker(user, input.password, log);
    log.info({ event: "authn_login_password_ok", userId: user.id }, "password accepted");
    return deps.nextStep({ userId: user.id, amr: ["pwd"], authTime: deps.clock.now(), deviceToken: input.deviceToken }, log);
  }

  return { login };
}

export type SignInService = ReturnType<typeof createSignInService>;
