// Sessions are refresh-token families (RFC 9700 §4.14.2): every rotation adds a
// token to the family, and presenting a spent one revokes the whole family.
import { randomUUID } from "node:crypto";
import type { Db, PendingWrites } from "../db/database.ts";
import { Prisma } from "../generated/prisma/client.ts";

export interface SessionRecord {
  id: string;
  userId: string;
  amr: string[];
  authTime: Date;
  lastUsedAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
}

interface SessionRow {
  id: string;
  user_id: string;
  amr: string[];
  auth_time: Date;
  last_used_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
  spent_now: number;
  user_disabled: boolean;
}

function toSession(row: SessionRow): SessionRecord {
  return {
    id: row.id, userId: row.user_id, amr: row.amr, authTime: new Date(row.auth_time), lastUsedAt: new Date(row.last_used_at),
    expiresAt: new Date(row.expires_at), revokedAt: row.revoked_at ? new Date(row.revoked_at) : null,
  };
}

const sessionFields = { id: true, userId: true, amr: true, authTime: true, lastUsedAt: true, expiresAt: true, revokedAt: true } as const;

export function createSessionRepository(prisma: Db) {
  return {
    /**
     * The session, its first refresh token and the request's pending rows (its
     * audit rows: the sign-in's own, and those recorded before it) in one
     * statement, atomic because it is one: sign-in is on every person's path,
     * and every round trip beside it shows in throughput. `announced` holds the
     * rows about this session (authn_login_success): they go in only with it.
     * Null when the account is disabled: no path (password, external, second
     * step, enrollment) can mint a session for it, whatever it checked before (SJ-09).
     */
    async create(data: {
      id: string; userId: string; amr: string[]; authTime: Date; now: Date; expiresAt: Date; refreshTokenHash: string;
      clientAddress: string | null; userAgent: string | null;
      earlier?: PendingWrites; announced?: PendingWrites;
    }): Promise<SessionRecord | null> {
      const { id } = data;
      const companions = [
        ...(data.earlier?.statements(Prisma.sql`TRUE`) ?? []),
        ...(data.announced?.statements(Prisma.sql`EXISTS (SELECT 1 FROM s)`) ?? []),
      ].map((statement, i) => Prisma.sql`, ${Prisma.raw(`w${i}`)} AS (${statement})`);
      const rows = await prisma.$queryRaw<{ created: number }[]>`
        WITH s AS (
          INSERT INTO sessions (id, user_id, amr, auth_time, created_at, last_used_at, expires_at, client_address, user_agent)
          SELECT ${id}::uuid, u.id, ${data.amr}::text[], ${data.authTime}, ${data.now}, ${data.now}, ${data.expiresAt}, ${data.clientAddress}, ${data.userAgent}
          FROM users u WHERE u.id = ${data.userId}::uuid AND u.disabled_at IS NULL
          RETURNING id),
        r AS (
          INSERT INTO refresh_tokens (id, session_id, token_hash, created_at)
          SELECT ${randomUUID()}::uuid, s.id, ${data.refreshTokenHash}, ${data.now} FROM s
          RETURNING id)
        ${companions.length > 0 ? Prisma.join(companions, " ") : Prisma.empty}
        SELECT (SELECT count(*) FROM r)::int AS created`;
      if (Number(rows[0]?.created) !== 1) return null;
      return { id, userId: data.userId, amr: data.amr, authTime: data.authTime, lastUsedAt: data.now, expiresAt: data.expiresAt, revokedAt: null };
    },

    findById(id: string): Promise<SessionRecord | null> {
      return prisma.session.findUnique({ where: { id }, select: sessionFields });
    },

    /**
     * Introspection's one round trip: the caller's service client (by its key's
     * hash) and the token's session, each null when absent. The client is judged
     * before anything is answered (the route); reading the session first reveals nothing.
     */
    async findForIntrospection(clientSecretHash: string, sessionId: string | null) {
      const rows = await prisma.$queryRaw<(Partial<SessionRow> & { client_id: string | null; client_name: string; client_scopes: string[]; client_revoked_at: Date | null })[]>`
        SELECT c.id AS client_id, c.name AS client_name, c.scopes AS client_scopes, c.revoked_at AS client_revoked_at,
               s.id, s.user_id, s.amr, s.auth_time, s.last_used_at, s.expires_at, s.revoked_at
        FROM (SELECT 1) AS one
          LEFT JOIN service_clients c ON c.secret_hash = ${clientSecretHash}
          LEFT JOIN sessions s ON s.id = ${sessionId}::uuid`;
      const row = rows[0]!;
      return {
        client: row.client_id ? { id: row.client_id, name: row.client_name, scopes: row.client_scopes, revokedAt: row.client_revoked_at ? new Date(row.client_revoked_at) : null } : null,
        session: row.id ? toSession(row as SessionRow) : null,
      };
    },

    findRefreshToken(tokenHash: string) {
      return prisma.refreshToken.findUnique({
        where: { tokenHash },
        select: { id: true, spentAt: true, session: { select: sessionFields } },
      });
    },

    /**
     * Spends a refresh token and reads its session in one statement. Of
     * concurrent spends exactly one sees `spentNow` (the row lock re-checks
     * `spent_at IS NULL`); the others, like any later one, see when it was
     * spent. A loser whose snapshot predates the winner's commit still reads
     * `spent_at` as NULL: it lost a race that is happening now, so `spentAt`
     * is then `now`.
     */
    async spendRefreshToken(tokenHash: string, now: Date): Promise<{ session: SessionRecord; spentNow: boolean; spentAt: Date; userDisabled: boolean } | null> {
      const rows = await prisma.$queryRaw<(SessionRow & { spent_at: Date | null })[]>`
        WITH t AS (SELECT id, session_id, spent_at FROM refresh_tokens WHERE token_hash = ${tokenHash}),
        spent AS (
          UPDATE refresh_tokens r SET spent_at = ${now} FROM t
          WHERE r.id = t.id AND r.spent_at IS NULL RETURNING r.id)
        SELECT s.id, s.user_id, s.amr, s.auth_time, s.last_used_at, s.expires_at, s.revoked_at, t.spent_at,
               (SELECT count(*) FROM spent)::int AS spent_now, (u.disabled_at IS NOT NULL) AS user_disabled
        FROM t JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = s.user_id`;
      const row = rows[0];
      if (!row) return null;
      const spentNow = Number(row.spent_now) === 1;
      return { session: toSession(row), spentNow, spentAt: spentNow || !row.spent_at ? now : new Date(row.spent_at), userDisabled: Boolean(row.user_disabled) };
    },

    /** The next refresh token of the family, and the session's last use, in one statement. */
    async addRefreshToken(sessionId: string, tokenHash: string, now: Date) {
      await prisma.$executeRaw`
        WITH touched AS (UPDATE sessions SET last_used_at = ${now} WHERE id = ${sessionId}::uuid RETURNING id)
        INSERT INTO refresh_tokens (id, session_id, token_hash, created_at)
        SELECT ${randomUUID()}::uuid, touched.id, ${tokenHash}, ${now} FROM touched`;
    },

    async revoke(id: string, reason: string, now: Date) {
      await prisma.session.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: now, revokedReason: reason } });
    },

    /** A person's live sessions, newest first, with where each began (GET /v1/me/sessions). */
    listLive(userId: string, now: Date, usedSince: Date) {
      return prisma.session.findMany({
        where: { userId, revokedAt: null, expiresAt: { gt: now }, lastUsedAt: { gt: usedSince } },
        select: { id: true, amr: true, createdAt: true, lastUsedAt: true, clientAddress: true, userAgent: true },
        orderBy: [{ createdAt: "desc" }, { id: "asc" }],
      });
    },

    /** Ends one of the person's own sessions; false when it is not theirs or already ended. */
    async revokeOwn(userId: string, id: string, reason: string, now: Date): Promise<boolean> {
      const { count } = await prisma.session.updateMany({ where: { id, userId, revokedAt: null }, data: { revokedAt: now, revokedReason: reason } });
      return count === 1;
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
