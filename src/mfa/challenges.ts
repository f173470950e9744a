// The step between a correct password and a session: an opaque, short-lived,
// attempt-capped token bound to that password success (checklist OTP-13).
// purpose "mfa" answers the second step; "enrollment" only sets up TOTP.
// Only the token's SHA-256 is stored.
import { AppError } from "../errors.ts";
import type { Clock } from "../lib/clock.ts";
import { randomToken, sha256 } from "../lib/identifiers.ts";
import type { ChallengeRepository, ChallengeRow } from "./challenge-repository.ts";

export type ChallengePurpose = "mfa" | "enrollment";

export const ENROLLMENT_TOKEN_PREFIX = "enr_";

export interface Challenge {
  id: string;
  userId: string;
  purpose: ChallengePurpose;
  amr: string[];
  authTime: Date;
}

/** The holder of an enrollment token: a person who must set up 2SV before any session. */
export interface Enrollee {
  challengeId: string;
  /** Kept to count confirmation attempts against the token's cap. */
  challengeToken: string;
  userId: string;
  amr: string[];
  authTime: Date;
}

export function createChallengeService(challenges: ChallengeRepository, settings: { ttlSeconds: number; maxAttempts: number }, clock: Clock) {
  async function issue(purpose: ChallengePurpose, userId: string, amr: string[], authTime: Date) {
    const token = randomToken(purpose === "mfa" ? "mfa" : "enr");
    const now = clock.now();
    await challenges.insert({
      tokenHash: sha256(token), purpose, userId, amr, authTime, createdAt: now, expiresAt: new Date(now.getTime() + settings.ttlSeconds * 1000),
    });
    return { token, expiresIn: settings.ttlSeconds };
  }

  async function findLive(token: string, purpose: ChallengePurpose) {
    const row = await challenges.findByTokenHash(sha256(token));
    if (!row || row.purpose !== purpose || row.consumedAt || row.expiresAt <= clock.now()) return null;
    return row;
  }

  /**
   * The live challenge, after counting this attempt against its cap: one
   * conditional update on the way that succeeds; the refusal path looks again
   * to tell an exhausted token from a dead one.
   */
  async function attempt(token: string, purpose: ChallengePurpose): Promise<Challenge> {
    const counted = await challenges.countAttempt({ tokenHash: sha256(token), purpose, now: clock.now(), maxAttempts: settings.maxAttempts });
    if (counted) return { ...counted, purpose };
    if (await findLive(token, purpose)) throw new AppError("MFA_TOKEN_EXHAUSTED", { logReason: "challenge_attempts_exhausted" });
    throw new AppError(purpose === "mfa" ? "INVALID_MFA_TOKEN" : "UNAUTHENTICATED", { logReason: "challenge_not_live" });
  }

  /**
   * A challenge read beforehand (the second step's one read), judged as
   * `attempt` would, without counting: the caller counts the attempt in its
   * own write. Dead or foreign: INVALID_MFA_TOKEN; at its cap: MFA_TOKEN_EXHAUSTED.
   */
  function admit(row: ChallengeRow | null, purpose: ChallengePurpose): Challenge {
    if (!row || row.purpose !== purpose || row.consumedAt || row.expiresAt <= clock.now()) {
      throw new AppError(purpose === "mfa" ? "INVALID_MFA_TOKEN" : "UNAUTHENTICATED", { logReason: "challenge_not_live" });
    }
    if (row.attempts >= settings.maxAttempts) throw new AppError("MFA_TOKEN_EXHAUSTED", { logReason: "challenge_attempts_exhausted" });
    return { id: row.id, userId: row.userId, purpose, amr: row.amr, authTime: row.authTime };
  }

  /** The live challenge without counting an attempt (enrollment start); an exhausted one is refused. */
  async function peek(token: string, purpose: ChallengePurpose): Promise<Challenge | null> {
    const row = await findLive(token, purpose);
    if (!row) return null;
    if (row.attempts >= settings.maxAttempts) throw new AppError("MFA_TOKEN_EXHAUSTED", { logReason: "challenge_attempts_exhausted" });
    return { id: row.id, userId: row.userId, purpose, amr: row.amr, authTime: row.authTime };
  }

  /** The enrollee an enrollment token names, or null when it is not live. */
  async function findEnrollee(token: string): Promise<Enrollee | null> {
    if (!token.startsWith(ENROLLMENT_TOKEN_PREFIX)) return null;
    const challenge = await peek(token, "enrollment");
    return challenge ? { challengeId: challenge.id, challengeToken: token, userId: challenge.userId, amr: challenge.amr, authTime: challenge.authTime } : null;
  }

  /** The live challenge a token names, attempts aside: a push long-poll waits on an answer, it guesses nothing. */
  async function holder(token: string, purpose: ChallengePurpose): Promise<Challenge | null> {
    const row = await findLive(token, purpose);
    return row ? { id: row.id, userId: row.userId, purpose, amr: row.amr, authTime: row.authTime } : null;
  }

  return {
    issue,
    attempt,
    admit,
    /** How a consuming write bounds attempts (second step: MfaRepository.acceptTotpStep). */
    maxAttempts: settings.maxAttempts,
    peek,
    holder,
    findEnrollee,
    /** Single use: exactly one caller consumes a challenge. */
    consume: (id: string) => challenges.consume({ id }, clock.now()),
    /** Spends a token that will never be handed out, so its row is dead at once rather than at expiry. */
    discard: async (token: string) => { await challenges.consume({ tokenHash: sha256(token) }, clock.now()); },
  };
}

export type ChallengeService = ReturnType<typeof createChallengeService>;
