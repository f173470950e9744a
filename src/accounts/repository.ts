// The only place that touches the users table. Explicit selects keep the
// password hash out of everything that does not need it.
import type { Db } from "../db/database.ts";

const publicFields = { id: true, email: true, name: true, createdAt: true } as const;

export type UserRecord = { id: string; email: string; name: string; createdAt: Date };
export type UserCredentials = UserRecord & { passwordHash: string };

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
      return prisma.user.findUnique({ where: { email }, select: { ...publicFields, passwordHash: true } });
    },
    findCredentialsById(id: string): Promise<UserCredentials | null> {
      return prisma.user.findUnique({ where: { id }, select: { ...publicFields, passwordHash: true } });
    },
    async updatePasswordHash(id: string, passwordHash: string, changedAt?: Date) {
      await prisma.user.update({
        where: { id },
        data: { passwordHash, ...(changedAt ? { passwordChangedAt: changedAt } : {}) },
      });
    },
  };
}

export type UserRepository = ReturnType<typeof createUserRepository>;
