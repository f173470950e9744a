// Password sign-in, as a sequence of named steps. Unknown email and wrong
// password are one outcome: the same problem, after the same argon2 work
// (a dummy verify for the unknown email), and the same failure counters keyed on
// the normalised email whether or not it exists (checklist UE-01..UE-03). The
// throttle, the hard cap and the audit of failures are the accounts feature's
// one password check, which every re-authenticating route shares.
import type { FastifyBaseLogger } from "fastify";
import { AppError } from "../errors.ts";
import type { Clock } from "../lib/clock.ts";
import { normalizeEmail } from "../lib/identifiers.ts";
import type { PasswordHasher } from "../lib/passwords.ts";
import type { UserCredentials, UserRepository } from "../accounts/repository.ts";
import type { CheckPassword } from "../accounts/password-check.ts";
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
  checkPassword: CheckPassword;
  maxPasswordLength: number;
  clock: Clock;
  nextStep: NextStep;
}

export function createSignInService(deps: SignInDeps) {
  /** Raises stored hashes to the current argon2 parameters while the password is at hand. */
  async function rehashIfWeaker(user: UserCredentials, password: string, log: FastifyBaseLogger) {
    if (!deps.hasher.needsRehash(user.passwordHash)) return;
    await deps.users.updatePasswordHash(user.id, await deps.hasher.hash(password));
    log.info({ userId: user.id }, "password hash upgraded to current parameters");
  }

  async function login(input: { email: string; password: string; deviceToken?: string }, clientAddress: string, log: FastifyBaseLogger) {
    const account = normalizeEmail(input.email);
    if ([...input.password.normalize("NFC")].length > deps.maxPasswordLength) throw new AppError("PASSWORD_TOO_LONG");
    const user = await deps.checkPassword({
      account, loadUser: () => deps.users.findCredentialsByEmail(account), password: input.password, clientAddress,
      deviceToken: input.deviceToken, failureEvent: "authn_login_fail", refusal: "INVALID_CREDENTIALS",
    });
    // Said only after a correct password, so it reveals nothing about which accounts exist.
    if (user.disabledAt) throw new AppError("ACCOUNT_DISABLED", { subjectUserId: user.id });
    await rehashIfWeaker(user, input.password, log);
    log.info({ event: "authn_login_password_ok", userId: user.id }, "password accepted");
    return deps.nextStep({ userId: user.id, amr: ["pwd"], authTime: deps.clock.now(), deviceToken: input.deviceToken }, log);
  }

  return { login };
}

export type SignInService = ReturnType<typeof createSignInService>;
