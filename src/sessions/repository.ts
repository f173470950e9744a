// Sessions are refresh-token families (RFC 9700 §4.14.2): every rotation adds a
// token to the family, and presenting a spent one revokes the whole family.
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
    async create(data: { userId: string; amr: string[]; authTime: Date; now: Date; expiresAt: Date; refreshTokenHash: string }) {
      return prisma.session.create({
        data: {
          userId: data.userId,
          amr: data.amr,
          authTime: data.authTime,
          createdAt: data.now,
          lastUsedAt: data.now,
          expiresAt: data.expiresAt,
          refreshTokens: { create: { tokenHash: data.refreshTokenHash, createdAt: data.now } },
        },
        select: sessionFields,
      });
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
