// Sessions are refresh-token families (RFC 9700 §4.14.2): every rotation adds a
// token to the family, and presenting a spent one revokes the whole family.
import { randomUUID } from "node:crypto";
import type { Prisma } from "../db/database.ts";

export interface SessionRecord {
  id: string;
  userId: string;
  amr: string[];
  authTime: Date;
  lastUsedAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
}

const sessionFields = { id: true, userId: true, amr: true, authTime: true, lastUsedAt: true, expiresAt: true, revokedAt: true } as const;

export function createSessionRepository(prisma: Prisma) {
  return {
    /**
     * The session and its first refresh token in one statement: sign-in is
     * dominated by argon2, and every round trip beside it shows in throughput.
     */
    async create(data: { userId: string; amr: string[]; authTime: Date; now: Date; expiresAt: Date; refreshTokenHash: string }): Promise<SessionRecord> {
      const id = randomUUID();
      await prisma.$executeRaw`
        WITH s AS (
          INSERT INTO sessions (id, user_id, amr, auth_time, created_at, last_used_at, expires_at)
          VALUES (${id}::uuid, ${data.userId}::uuid, ${data.amr}::text[], ${data.authTime}, ${data.now}, ${data.now}, ${data.expiresAt})
          RETURNING id)
        INSERT INTO refresh_tokens (id, session_id, token_hash, created_at)
        SELECT ${randomUUID()}::uuid, s.id, ${data.refreshTokenHash}, ${data.now} FROM s`;
      return { id, userId: data.userId, amr: data.amr, authTime: data.authTime, lastUsedAt: data.now, expiresAt: data.expiresAt, revokedAt: null };
    },

    findById(id: string): Promise<SessionRecord | null> {
      return prisma.session.findUnique({ where: { id }, select: sessionFields });
    },

    findRefreshToken(tokenHash: string) {
      return prisma.refreshToken.findUnique({
        where: { tokenHash },
        select: { id: true, spentAt: true, session: { select: sessionFields } },
      });
    },

    /** Spends a token exactly once: false when another request spent it first. */
    async spendRefreshToken(id: string, now: Date): Promise<boolean> {
      const { count } = await prisma.refreshToken.updateMany({ where: { id, spentAt: null }, data: { spentAt: now } });
      return count === 1;
    },

    async addRefreshToken(sessionId: string, tokenHash: string, now: Date) {
      await prisma.$transaction([
        prisma.refreshToken.create({ data: { sessionId, tokenHash, createdAt: now } }),
        prisma.session.update({ where: { id: sessionId }, data: { lastUsedAt: now } }),
      ]);
    },

    async revoke(id: string, reason: string, now: Date) {
      await prisma.session.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: now, revokedReason: reason } });
    },

    async revokeAllForUser(userId: string, reason: string, now: Date, exceptSessionId?: string) {
      const { count } = await prisma.session.updateMany({
        where: { userId, revokedAt: null, ...(exceptSessionId ? { id: { not: exceptSessionId } } : {}) },
        data: { revokedAt: now, revokedReason: reason },
      });
      return count;
    },
  };
}

export type SessionRepository = ReturnType<typeof createSessionRepository>;
