// External identities: (provider, subject) → user, at most one subject per user
// and provider. The primary key (provider, subject) makes "one person per
// subject" the database's rule, not a read-then-write check.
import type { Prisma } from "../db/database.ts";
import { sha256 } from "../lib/identifiers.ts";

export type LinkOutcome = { outcome: "linked"; replacedEarlier: boolean } | { outcome: "unchanged" } | { outcome: "taken" };

export function createExternalIdentityRepository(prisma: Prisma, provider: string) {
  async function findUserId(subject: string): Promise<string | null> {
    const row = await prisma.externalIdentity.findUnique({ where: { provider_subject: { provider, subject } }, select: { userId: true } });
    return row?.userId ?? null;
  }

  async function userExists(userId: string): Promise<boolean> {
    return (await prisma.user.count({ where: { id: userId } })) === 1;
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

  /** Spends a challenge token that will never be handed out, so its row is dead at once rather than at expiry. */
  async function discardChallenge(token: string, now: Date): Promise<void> {
    await prisma.authChallenge.updateMany({ where: { tokenHash: sha256(token), consumedAt: null }, data: { consumedAt: now } });
  }

  return { findUserId, userExists, link, unlink, discardChallenge };
}

export type ExternalIdentityRepository = ReturnType<typeof createExternalIdentityRepository>;
