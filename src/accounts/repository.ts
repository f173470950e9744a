// The only place that touches the users table. Explicit selects keep the
// password hash out of everything that does not need it.
import type { Db } from "../db/database.ts";

const publicFields = { id: true, email: true, name: true, createdAt: true } as const;

export type UserRecord = { id: string; email: string; name: string; createdAt: Date };
export type UserCredentials = UserRecord & {
  passwordHash: string;
  /** Consecutive password failures from every address and route (the hard cap's count). */
  passwordFailures: number;
  passwordLockedAt: Date | null;
  disabledAt: Date | null;
};

const credentialFields = { ...publicFields, passwordHash: true, passwordFailures: true, passwordLockedAt: true, disabledAt: true } as const;

function isUniqueViolation(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: string }).code === "P2002";
}

export function createUserRepository(prisma: Db) {
  return {
    /** Null when the email is taken (a unique violation is an expected outcome, not an error). */
    async insert(data: { email: string; name: string; passwordHash: string }): Promise<UserRecord | null> {
      try {
        return await prisma.user.create({ data, select: publicFields });
      } catch (error) {
        if (isUniqueViolation(error)) return null;
        throw error;
      }
    },
    findById(id: string): Promise<UserRecord | null> {
      return prisma.user.findUnique({ where: { id }, select: publicFields });
    },
    findCredentialsByEmail(email: string): Promise<UserCredentials | null> {
      return prisma.user.findUnique({ where: { email }, select: credentialFields });
    },
    findCredentialsById(id: string): Promise<UserCredentials | null> {
      return prisma.user.findUnique({ where: { id }, select: credentialFields });
    },
    async updatePasswordHash(id: string, passwordHash: string, changedAt?: Date) {
      await prisma.user.update({
        where: { id },
        data: { passwordHash, ...(changedAt ? { passwordChangedAt: changedAt } : {}) },
      });
    },

    /** One more consecutive password failure, counted atomically; returns the new count. */
    async addPasswordFailure(id: string): Promise<number> {
      const row = await prisma.user.update({ where: { id }, data: { passwordFailures: { increment: 1 } }, select: { passwordFailures: true } });
      return row.passwordFailures;
    },
    async resetPasswordFailures(id: string) {
      await prisma.user.updateMany({ where: { id, passwordFailures: { gt: 0 } }, data: { passwordFailures: 0 } });
    },
    /** Disables the password; true only for the call that did it, so the lock is announced once. */
    async lockPassword(id: string, now: Date): Promise<boolean> {
      const { count } = await prisma.user.updateMany({ where: { id, passwordLockedAt: null }, data: { passwordLockedAt: now } });
      return count === 1;
    },
    /** Support unlock: the count starts again. False when there is no such user. */
    async unlockPassword(id: string): Promise<{ wasLocked: boolean } | null> {
      const user = await prisma.user.findUnique({ where: { id }, select: { passwordLockedAt: true } });
      if (!user) return null;
      await prisma.user.update({ where: { id }, data: { passwordFailures: 0, passwordLockedAt: null } });
      return { wasLocked: user.passwordLockedAt !== null };
    },
    /** Disables (a date) or enables (null) the account; false when there is no such user. */
    async setDisabled(id: string, disabledAt: Date | null): Promise<boolean> {
      const { count } = await prisma.user.updateMany({ where: { id }, data: { disabledAt } });
      return count === 1;
    },
  };
}

export type UserRepository = ReturnType<typeof createUserRepository>;
