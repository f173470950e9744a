// External sign-in (Mobile BankID broker) and linking people to their external
// identity. A provider configured as multi-factor satisfies the second step by
// itself (PRODUCT.md "Sign-in methods"); otherwise the assertion is a first
// factor like a password. A BankID session may not set up 2SV (help article), so
// a person who would have to enroll is sent to the password instead. Every
// refusal of an assertion, unknown subject included, is one identical 401, so
// the answer tells no one which persons have BankID linked.
import type { Transaction } from "../db/database.ts";
import type { FastifyBaseLogger } from "fastify";
import { AppError } from "../errors.ts";
import type { Clock } from "../lib/clock.ts";
import type { EmitEvent } from "../audit/events.ts";
import type { FirstFactorSuccess } from "../sign-in/service.ts";
import type { LoginResult } from "../sign-in/schemas.ts";
import type { AssertionVerifier } from "./assertion.ts";
import type { Provider } from "./provider.ts";
import type { ExternalIdentityRepository } from "./repository.ts";

// "mfa" is RFC 8176 §2's "multiple factors"; "ext" is this service's name for an external provider (PRODUCT.md).
const EXTERNAL_AMR = "ext";
const KEY_OUTAGE_RETRY_SECONDS = 5;

export interface FederatedServiceDeps {
  /** Null while external sign-in is off; linking works regardless. */
  provider: { settings: Provider; verifier: AssertionVerifier } | null;
  providerName: string;
  identities: ExternalIdentityRepository;
  /** A link and its notification commit together (audit + outbox). */
  transaction: Transaction<{ externalIdentities: Pick<ExternalIdentityRepository, "link"> }>;
  clock: Clock;
  emit: EmitEvent;
  afterFirstFactor: (success: FirstFactorSuccess, log: FastifyBaseLogger) => Promise<LoginResult>;
  startSession: (userId: string, amr: string[], authTime: Date) => Promise<LoginResult>;
  /** True the first time a key is claimed within the window, on every instance. */
  claimOnce: (key: string, windowMs: number) => Promise<boolean>;
  /** Refuses a disabled account with ACCOUNT_DISABLED (accounts feature). */
  assertActive: (userId: string) => Promise<void>;
  /** Whether a user exists (accounts feature). */
  userExists: (userId: string) => Promise<boolean>;
  /** Spends a challenge token that will never be handed out (MFA feature). */
  discardChallenge: (token: string) => Promise<void>;
}

export function createFederatedService(deps: FederatedServiceDeps) {
  function enabled() {
    if (!deps.provider) throw new AppError("FEDERATED_SIGN_IN_DISABLED");
    return deps.provider;
  }

  /** Before a person is known: the audit event has no subject user. */
  async function refuse(reason: string, check: string): Promise<never> {
    await deps.emit("authn_login_fail", null, { method: "federated", reason });
    throw new AppError("INVALID_ASSERTION", { logReason: check });
  }

  async function verifiedSubject(verifier: AssertionVerifier, assertion: string, log: FastifyBaseLogger): Promise<string> {
    const outcome = await verifier.verify(assertion);
    if ("subject" in outcome) {
      // A captured assertion must not sign in a second time within its lifetime.
      const windowMs = (enabled().settings.maxAgeSeconds + 60) * 1000;
      if (!(await deps.claimOnce(`assertion:${outcome.replayKey}`, windowMs))) return refuse("replayed_assertion", "replayed_assertion");
      return outcome.subject;
    }
    if ("rejected" in outcome) return refuse("invalid_assertion", outcome.rejected);
    log.warn({ err: outcome.unavailable }, "the provider's keys could not be fetched");
    throw new AppError("UNAVAILABLE", { retryAfterSeconds: KEY_OUTAGE_RETRY_SECONDS, logReason: "provider_keys_unavailable" });
  }

  async function linkedUser(subject: string): Promise<string> {
    return (await deps.identities.findUserId(subject)) ?? refuse("unknown_subject", "unknown_subject");
  }

  /** A single-factor provider: the normal second step, but never enrollment from this session. */
  async function secondStep(success: FirstFactorSuccess, log: FastifyBaseLogger): Promise<LoginResult> {
    const result = await deps.afterFirstFactor(success, log);
    if (result.status !== "mfa_enrollment_required") return result;
    await deps.discardChallenge(result.enrollmentToken);
    await deps.emit("authn_login_fail", success.userId, { method: "federated", reason: "password_sign_in_required" });
    throw new AppError("PASSWORD_SIGN_IN_REQUIRED", { logReason: "enrollment_needs_password_sign_in" });
  }

  async function signIn(assertion: string, log: FastifyBaseLogger): Promise<LoginResult> {
    const { settings, verifier } = enabled();
    const subject = await verifiedSubject(verifier, assertion, log);
    const userId = await linkedUser(subject);
    // A verified, linked assertion proves the person: saying the account is disabled reveals nothing.
    await deps.assertActive(userId);
    const now = deps.clock.now();
    log.info({ event: "authn_federated_ok", userId, provider: settings.name }, "external assertion accepted");
    if (settings.multiFactor) return deps.startSession(userId, [EXTERNAL_AMR, "mfa"], now);
    return secondStep({ userId, amr: [EXTERNAL_AMR], authTime: now }, log);
  }

  async function link(userId: string, subject: string): Promise<void> {
    if (!(await deps.userExists(userId))) throw new AppError("NOT_FOUND");
    const result = await deps.transaction(async (tx) => {
      const linked = await tx.externalIdentities.link(userId, subject);
      // The subject (for BankID often derived from a national identity number) stays out of the audit log.
      if (linked.outcome === "linked") {
        await deps.emit("external_identity_linked", userId, { provider: deps.providerName, replacedEarlier: linked.replacedEarlier });
      }
      return linked;
    });
    if (result.outcome === "taken") throw new AppError("EXTERNAL_IDENTITY_TAKEN");
  }

  async function unlink(userId: string): Promise<void> {
    if (!(await deps.identities.unlink(userId))) throw new AppError("NOT_FOUND");
    await deps.emit("external_identity_unlinked", userId, { provider: deps.providerName });
  }

  return { signIn, link, unlink };
}

export type FederatedService = ReturnType<typeof createFederatedService>;
