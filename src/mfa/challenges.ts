// The step between a correct password and a session: an opaque, short-lived,
// attempt-capped token bound to that password success (checklist OTP-13).
// purpose "mfa" answers the second step; "enrollment" only sets up TOTP.
// Only the token's SHA-256 is stored.
import { AppError } from "../errors.ts";
import type { Prisma } from "../db/database.ts";
import type { Clock } from "../lib/clock.ts";
import { randomToken, sha256 } from "../lib/identifiers.ts";

export type ChallengePurpose = "mfa" | "enrollment";

export interface Challenge {
  id: string;
  userId: string;
  purpose: ChallengePurpose;
  amr: string[];
  authTime: Date;
}

export function createChallengeService(prisma: Prisma, settings: { ttlSeconds: number; maxAttempts: number }, clock: Clock) {
  async function issue(purpose: ChallengePurpose, userId: string, amr: string[], authTime: Date) {
    const token = randomToken(purpose === "mfa" ? "mfa" : "enr");
    const now = clock.now();
    await prisma.authChallenge.create({
      data: { tokenHash: sha256(token), purpose, userId, amr, authTime, createdAt: now, expiresAt: new Date(now.getTime() + settings.ttlSeconds * 1000) },
    });
    return { token, expiresIn: settings.ttlSeconds };
  }

  async function findLive(token: string, purpose: ChallengePurpose) {
    const row = await prisma.authChallenge.findUnique({ where: { tokenHash: sha256(token) } });
    if (!row || row.purpose !== purpose || row.consumedAt || row.expiresAt <= clock.now()) return null;
    return row;
  }

  /**
   * The live challenge, after counting this attempt against its cap: one
   * conditional update on the way that succeeds; the refusal path looks again
   * to tell an exhausted token from a dead one.
   */
  async function attempt(token: string, purpose: ChallengePurpose): Promise<Challenge> {
    const rows = await prisma.$queryRaw<{ id: string; user_id: string; amr: string[]; auth_time: Date }[]>`
      UPDATE auth_challenges SET attempts = attempts + 1
      WHERE token_hash = ${sha256(token)} AND purpose = ${purpose} AND consumed_at IS NULL
        AND expires_at > ${clock.now()} AND attempts < ${settings.maxAttempts}
      RETURNING id, user_id, amr, auth_time`;
    const row = rows[0];
    if (row) return { id: row.id, userId: row.user_id, purpose, amr: row.amr, authTime: new Date(row.auth_time) };
    if (await findLive(token, purpose)) throw new AppError("MFA_TOKEN_EXHAUSTED", { logReason: "challenge_attempts_exhausted" });
    throw new AppError(purpose === "mfa" ? "INVALID_MFA_TOKEN" : "UNAUTHENTICATED", { logReason: "challenge_not_live" });
  }

  /** The live challenge without counting an attempt (enrollment start); an exhausted one is refused. */
  async function peek(token: string, purpose: ChallengePurpose): Promise<Challenge | null> {
    const row = await findLive(token, purpose);
    if (!row) return null;
    if (row.attempts >= settings.maxAttempts) throw new AppError("MFA_TOKEN_EXHAUSTED", { logReason: "challenge_attempts_exhausted" });
    return { id: row.id, userId: row.userId, purpose, amr: row.amr, authTime: row.authTime };
  }

  /** Single use: exactly one caller consumes a challenge. */
  async function consume(id: string): Promise<boolean> {
    const { count } = await prisma.authChallenge.updateMany({ where: { id, consumedAt: null }, data: { consumedAt: clock.now() } });
    return count === 1;
  }

  return { issue, attempt, peek, consume };
}

export type ChallengeService = ReturnType<typeof createChallengeService>;
