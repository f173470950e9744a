// Push challenges and the push fatigue counters: the only writer of
// push_challenges and push_throttles. A challenge leaves "pending" exactly once,
// by a conditional update whose row count says who won, on every instance.
import type { Db } from "../db/database.ts";

export type PushStatus = "pending" | "approved" | "rejected" | "expired" | "superseded";

export interface PushChallengeRecord {
  id: string;
  userId: string;
  mfaChallengeId: string;
  status: PushStatus;
  numberToMatch: string;
  rememberDevice: boolean;
  deviceName: string | null;
  clientAddress: string | null;
  userAgent: string | null;
  createdAt: Date;
  expiresAt: Date;
  answeredAt: Date | null;
  authenticatorId: string | null;
  reason: string | null;
}

const fields = {
  id: true, userId: true, mfaChallengeId: true, status: true, numberToMatch: true, rememberDevice: true, deviceName: true,
  clientAddress: true, userAgent: true, createdAt: true, expiresAt: true, answeredAt: true, authenticatorId: true, reason: true,
} as const;

export interface PushThrottleState {
  unapproved: number;
  lastPushAt: Date | null;
  nextPushAt: Date | null;
  blockedUntil: Date | null;
}

export function createPushChallengeRepository(prisma: Db) {
  return {
    findById: async (id: string) => (await prisma.pushChallenge.findUnique({ where: { id }, select: fields })) as PushChallengeRecord | null,

    /** Live pending challenges of a person, newest first. */
    listPending: async (userId: string, now: Date) =>
      (await prisma.pushChallenge.findMany({
        where: { userId, status: "pending", expiresAt: { gt: now } }, select: fields, orderBy: { createdAt: "desc" },
      })) as PushChallengeRecord[],

    /** One pending challenge per person: a new one supersedes the others. Run it in a transaction with insert. */
    async supersedePending(userId: string, now: Date) {
      const { count } = await prisma.pushChallenge.updateMany({ where: { userId, status: "pending" }, data: { status: "superseded", answeredAt: now } });
      return count;
    },

    async insert(data: Omit<PushChallengeRecord, "id" | "status" | "answeredAt" | "authenticatorId" | "reason">) {
      const row = await prisma.pushChallenge.create({ data: { ...data, status: "pending" }, select: { id: true } });
      return row.id;
    },

    /** Leaves "pending" once: only a live pending challenge of this person moves. */
    async answer(input: { id: string; userId: string; status: "approved" | "rejected"; authenticatorId: string; reason: string | null; now: Date }) {
      const { count } = await prisma.pushChallenge.updateMany({
        where: { id: input.id, userId: input.userId, status: "pending", expiresAt: { gt: input.now } },
        data: { status: input.status, authenticatorId: input.authenticatorId, reason: input.reason, answeredAt: input.now },
      });
      return count === 1;
    },

    /** A pending challenge past its expiry becomes "expired", once (whoever notices first records it). */
    async expire(id: string, now: Date) {
      const { count } = await prisma.pushChallenge.updateMany({ where: { id, status: "pending", expiresAt: { lte: now } }, data: { status: "expired", answeredAt: now } });
      return count === 1;
    },

    throttleState: async (userId: string): Promise<PushThrottleState | null> =>
      prisma.pushThrottle.findUnique({ where: { userId }, select: { unapproved: true, lastPushAt: true, nextPushAt: true, blockedUntil: true } }),

    /**
     * Charges the wait of one more unapproved push, atomically and only when no
     * wait or block runs: false means another push got there first. `resetBefore`:
     * a count whose last push is older than this starts over (PUSH-ANCHORS §5.2: 24 h).
     */
    async chargePush(input: { userId: string; now: Date; resetBefore: Date; waitSeconds: (unapproved: number) => number }) {
      const current = await prisma.pushThrottle.findUnique({ where: { userId: input.userId }, select: { unapproved: true, lastPushAt: true } });
      const base = current && current.lastPushAt && current.lastPushAt > input.resetBefore ? current.unapproved : 0;
      const unapproved = base + 1;
      const nextPushAt = new Date(input.now.getTime() + input.waitSeconds(unapproved) * 1000);
      const rows = await prisma.$queryRaw<{ unapproved: number }[]>`
        INSERT INTO push_throttles (user_id, unapproved, last_push_at, next_push_at) VALUES (${input.userId}::uuid, ${unapproved}, ${input.now}, ${nextPushAt})
        ON CONFLICT (user_id) DO UPDATE SET unapproved = ${unapproved}, last_push_at = ${input.now}, next_push_at = ${nextPushAt}
          WHERE (push_throttles.next_push_at IS NULL OR push_throttles.next_push_at <= ${input.now})
            AND (push_throttles.blocked_until IS NULL OR push_throttles.blocked_until <= ${input.now})
        RETURNING unapproved`;
      return rows.length === 1;
    },

    /** An approval resets the doubling wait. */
    async resetWait(userId: string) {
      await prisma.pushThrottle.updateMany({ where: { userId }, data: { unapproved: 0, nextPushAt: null } });
    },

    /** "This wasn't me": no push to this person until `until`. */
    async block(userId: string, until: Date) {
      await prisma.pushThrottle.upsert({ where: { userId }, create: { userId, blockedUntil: until }, update: { blockedUntil: until } });
    },
  };
}

export type PushChallengeRepository = ReturnType<typeof createPushChallengeRepository>;
