// External identities: the only writer of external_identities. (provider, subject) → user, at most one subject per user
// and provider. The primary key (provider, subject) makes "one person per
// subject" the database's rule, not a read-then-write check.
import type { Db } from "../db/database.ts";

export type LinkOutcome = { outcome: "linked"; replacedEarlier: boolean } | { outcome: "unchanged" } | { outcome: "taken" };

export function createExternalIdentityRepository(prisma: Db, provider: string) {
  async function findUserId(subject: string): Promise<string | null> {
    const row = await prisma.externalIdentity.findUnique({ where: { provider_subject: { provider, subject } }, select: { userId: true } });
    return row?.userId ?? null;
  }

  /**
   * Inserts if free, then reads who holds the subject. The user's other subject
   * goes only after this one is theirs: two concurrent links of different
   * subjects can leave the user with none, never with two.
   */
  async function link(userId: string, subject: string): Promise<LinkOutcome> {
    const { count: created } = await prisma.externalIdentity.createMany({ data: [{ provider, subject, userId }], skipDuplicates: true });
    if ((await findUserId(subject)) !== userId) return { outcome: "taken" };
    const { count: replaced } = await prisma.externalIdentity.deleteMany({ where: { provider, userId, subject: { not: subject } } });
    return created === 1 || replaced > 0 ? { outcome: "linked", replacedEarlier: replaced > 0 } : { outcome: "unchanged" };
  }

  async function unlink(userId: string): Promise<boolean> {
    return (await prisma.externalIdentity.deleteMany({ where: { provider, userId } })).count > 0;
  }

  return { findUserId, link, unlink };
}

export type ExternalIdentityRepository = ReturnType<typeof createExternalIdentityRepository>;
