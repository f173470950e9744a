// MFA and enrollment challenges: the only writer of auth_challenges. Rows are
// found by the token's SHA-256; the token itself is never stored.
import type { Db, Sql } from "../db/database.ts";
import { Prisma } from "../generated/prisma/client.ts";

export interface ChallengeRow {
  id: string;
  userId: string;
  purpose: string;
  amr: string[];
  authTime: Date;
  attempts: number;
  expiresAt: Date;
  consumedAt: Date | null;
}

const challengeFields = { id: true, userId: true, purpose: true, amr: true, authTime: true, attempts: true, expiresAt: true, consumedAt: true } as const;

/**
 * Spends a live challenge under its attempt cap, counting this attempt, as one
 * CTE body for a bigger write (the second step's: burn the TOTP step and spend
 * the challenge in one statement); `when` guards it. RETURNING id: one row
 * when this caller consumed it.
 */
export function consumeStatement(input: { id: string; now: Date; maxAttempts: number }, when: Sql): Sql {
  return Prisma.sql`
    UPDATE auth_challenges SET consumed_at = ${input.now}, attempts = attempts + 1
    WHERE id = ${input.id}::uuid AND consumed_at IS NULL AND expires_at > ${input.now} AND attempts < ${input.maxAttempts} AND ${when}
    RETURNING id`;
}

export function createChallengeRepository(prisma: Db) {
  return {
    async insert(data: { tokenHash: string; purpose: string; userId: string; amr: string[]; authTime: Date; createdAt: Date; expiresAt: Date }) {
      await prisma.authChallenge.create({ data, select: { id: true } });
    },

    findByTokenHash: (tokenHash: string): Promise<ChallengeRow | null> =>
      prisma.authChallenge.findUnique({ where: { tokenHash }, select: challengeFields }),

    /** Counts one attempt on a live challenge under its cap, in one conditional update; null when none qualifies. */
    async countAttempt(input: { tokenHash: string; purpose: string; now: Date; maxAttempts: number }) {
      const rows = await prisma.$queryRaw<{ id: string; user_id: string; amr: string[]; auth_time: Date }[]>`
        UPDATE auth_challenges SET attempts = attempts + 1
        WHERE token_hash = ${input.tokenHash} AND purpose = ${input.purpose} AND consumed_at IS NULL
          AND expires_at > ${input.now} AND attempts < ${input.maxAttempts}
        RETURNING id, user_id, amr, auth_time`;
      const row = rows[0];
      return row ? { id: row.id, userId: row.user_id, amr: row.amr, authTime: new Date(row.auth_time) } : null;
    },

    /** Single use: the row count says whether this caller consumed it. */
    async consume(where: { id: string } | { tokenHash: string }, now: Date): Promise<boolean> {
      const { count } = await prisma.authChallenge.updateMany({ where: { ...where, consumedAt: null }, data: { consumedAt: now } });
      return count === 1;
    },
  };
}

export type ChallengeRepository = ReturnType<typeof createChallengeRepository>;
