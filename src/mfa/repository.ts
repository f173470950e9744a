// Persistence of second factors: TOTP factors (pending until confirmed), recovery
// codes and the per-user failure counter, the only writer of totp_factors,
// recovery_codes and second_factor_throttles. Every single-use rule is a
// conditional update whose row count says who won, so it holds across concurrent
// requests and across instances sharing the database (RFC 6238 §5.2; ASVS 6.5.1).
// Multi-statement changes are made atomic by the caller's transaction
// (db/database.ts Transaction), which may also span other features' tables.
import type { Db, PendingWrites } from "../db/database.ts";
import { Prisma } from "../generated/prisma/client.ts";
import type { FactorState } from "../lib/second-factors.ts";
import { consumeStatement, type ChallengeRow } from "./challenge-repository.ts";

export interface TotpFactorRecord {
  id: string;
  userId: string;
  status: "pending" | "active";
  secretCiphertext: string;
  encryptionKeyId: string;
  lastUsedStep: number | null;
  confirmedAt: Date | null;
  disabledAt: Date | null;
  /** Consecutive accepted codes one step behind (negative) or ahead (positive) of the server. */
  driftStreak: number;
}

const factorFields = {
  id: true, userId: true, status: true, secretCiphertext: true, encryptionKeyId: true,
  lastUsedStep: true, confirmedAt: true, disabledAt: true, driftStreak: true,
} as const;

type FactorRow = { [K in keyof typeof factorFields]: unknown } & { lastUsedStep: bigint | null };

function toFactor(row: FactorRow | null): TotpFactorRecord | null {
  if (!row) return null;
  return { ...(row as unknown as TotpFactorRecord), lastUsedStep: row.lastUsedStep === null ? null : Number(row.lastUsedStep) };
}

interface TotpStateRow {
  failures: number | null;
  blocked_until: Date | null;
  id: string | null;
  status: string;
  secret_ciphertext: string;
  encryption_key_id: string;
  last_used_step: bigint | number | null;
  confirmed_at: Date | null;
  disabled_at: Date | null;
  drift_streak: number | null;
}

function toFactorFromRow(userId: string, row: TotpStateRow): TotpFactorRecord {
  return {
    id: row.id!,
    userId,
    status: "active",
    secretCiphertext: row.secret_ciphertext,
    encryptionKeyId: row.encryption_key_id,
    lastUsedStep: row.last_used_step === null ? null : Number(row.last_used_step),
    confirmedAt: row.confirmed_at ? new Date(row.confirmed_at) : null,
    disabledAt: row.disabled_at ? new Date(row.disabled_at) : null,
    driftStreak: Number(row.drift_streak ?? 0),
  };
}

/** What every TOTP check starts with: the failure state and the active factor. */
export interface TotpState {
  failures: number;
  blockedUntil: Date | null;
  factor: TotpFactorRecord | null;
}

function toTotpState(userId: string, row: TotpStateRow): TotpState {
  return {
    failures: Number(row.failures ?? 0),
    blockedUntil: row.blocked_until ? new Date(row.blocked_until) : null,
    factor: row.id ? toFactorFromRow(userId, row) : null,
  };
}

interface SecondStepRow extends TotpStateRow {
  challenge_id: string;
  user_id: string;
  purpose: string;
  amr: string[];
  auth_time: Date;
  attempts: number;
  expires_at: Date;
  consumed_at: Date | null;
}

const toCodeRows = (userId: string, codeHashes: string[], now: Date) => codeHashes.map((codeHash) => ({ userId, codeHash, createdAt: now }));

export function createMfaRepository(prisma: Db) {
  return {
    async findFactor(userId: string, status: "pending" | "active"): Promise<TotpFactorRecord | null> {
      return toFactor(await prisma.totpFactor.findUnique({ where: { userId_status: { userId, status } }, select: factorFields }) as FactorRow | null);
    },

    /** Replaces any earlier unconfirmed set-up with a new pending factor (two statements: run it in a transaction). */
    async savePendingFactor(data: { id: string; userId: string; secretCiphertext: string; encryptionKeyId: string }) {
      await prisma.totpFactor.deleteMany({ where: { userId: data.userId, status: "pending" } });
      await prisma.totpFactor.create({ data: { ...data, status: "pending" } });
    },

    /**
     * Burns a time step: succeeds only if no step at or after it was accepted
     * before. The row count is the atomic compare-and-set (checklist OTP-05).
     */
    async burnStep(factorId: string, step: number, driftStreak?: number): Promise<boolean> {
      const { count } = await prisma.totpFactor.updateMany({
        where: { id: factorId, disabledAt: null, OR: [{ lastUsedStep: null }, { lastUsedStep: { lt: BigInt(step) } }] },
        data: { lastUsedStep: BigInt(step), ...(driftStreak === undefined ? {} : { driftStreak }) },
      });
      return count === 1;
    },

    /**
     * Activates a confirmed factor: the old factor and recovery codes go, the new
     * codes come, the failure count is cleared. Only a still-pending factor whose
     * step was not used can be activated. Run it in a transaction.
     */
    async activateFactor(input: { factorId: string; userId: string; step: number; now: Date; recoveryCodeHashes: string[] }): Promise<boolean> {
      const { count } = await prisma.totpFactor.updateMany({
        where: { id: input.factorId, status: "pending" },
        data: { status: "activating", lastUsedStep: BigInt(input.step), confirmedAt: input.now },
      });
      if (count !== 1) return false;
      await prisma.totpFactor.deleteMany({ where: { userId: input.userId, status: "active" } });
      await prisma.totpFactor.update({ where: { id: input.factorId }, data: { status: "active" } });
      await prisma.recoveryCode.deleteMany({ where: { userId: input.userId } });
      await prisma.recoveryCode.createMany({ data: toCodeRows(input.userId, input.recoveryCodeHashes, input.now) });
      await prisma.secondFactorThrottle.deleteMany({ where: { userId: input.userId } });
      return true;
    },

    /**
     * What the sign-in's next step depends on, in one round trip: the person's
     * factors (lib/second-factors.ts FactorState; paired apps are read, never
     * written, here), and whether any company mandate reaches the person (the
     * details are read only when that matters).
     */
    async signInState(userId: string): Promise<FactorState & { mandated: boolean }> {
      const rows = await prisma.$queryRaw<{ totp_enrolled: boolean; totp: boolean; recovery_codes: number; push_apps: number; mandated: boolean }[]>`
        SELECT
          EXISTS (SELECT 1 FROM totp_factors WHERE user_id = ${userId}::uuid AND status = 'active') AS totp_enrolled,
          EXISTS (SELECT 1 FROM totp_factors WHERE user_id = ${userId}::uuid AND status = 'active' AND disabled_at IS NULL) AS totp,
          (SELECT count(*)::int FROM recovery_codes WHERE user_id = ${userId}::uuid AND used_at IS NULL) AS recovery_codes,
          (SELECT count(*)::int FROM push_authenticators WHERE user_id = ${userId}::uuid AND status = 'active') AS push_apps,
          EXISTS (
            SELECT 1 FROM memberships m JOIN companies c ON c.id = m.company_id
              WHERE m.user_id = ${userId}::uuid AND c.mandatory_two_factor
            UNION ALL
            SELECT 1 FROM assignments a JOIN companies c ON c.id = a.client_id
              WHERE a.user_id = ${userId}::uuid AND c.mandatory_two_factor
          ) AS mandated`;
      const row = rows[0]!;
      return {
        totpEnrolled: row.totp_enrolled, totpUsable: row.totp, recoveryCodes: Number(row.recovery_codes), pushApps: Number(row.push_apps), mandated: row.mandated,
      };
    },

    unusedRecoveryCodes(userId: string) {
      return prisma.recoveryCode.findMany({ where: { userId, usedAt: null }, select: { id: true, codeHash: true } });
    },

    /** Spends a recovery code once, whatever the concurrency (checklist RC-04). */
    /**
     * Spends a code once (the row lock re-checks used_at IS NULL). With
     * `events`, the request's pending rows go into the same statement:
     * `earlier` ones always, `announced` ones (recovery_code_used) only when
     * this call spent the code, so the spend and its notification commit together.
     */
    async spendRecoveryCode(id: string, now: Date, events: { earlier?: PendingWrites; announced?: PendingWrites } = {}): Promise<boolean> {
      const companions = [
        ...(events.earlier?.statements(Prisma.sql`TRUE`) ?? []),
        ...(events.announced?.statements(Prisma.sql`EXISTS (SELECT 1 FROM spent)`) ?? []),
      ].map((statement, i) => Prisma.sql`, ${Prisma.raw(`w${i}`)} AS (${statement})`);
      if (companions.length === 0) {
        const { count } = await prisma.recoveryCode.updateMany({ where: { id, usedAt: null }, data: { usedAt: now } });
        return count === 1;
      }
      const rows = await prisma.$queryRaw<{ spent: number }[]>`
        WITH spent AS (
          UPDATE recovery_codes SET used_at = ${now} WHERE id = ${id}::uuid AND used_at IS NULL RETURNING 1)
        ${Prisma.join(companions, " ")}
        SELECT (SELECT count(*) FROM spent)::int AS spent`;
      return Number(rows[0]?.spent) === 1;
    },

    async addRecoveryCodes(userId: string, codeHashes: string[], now: Date) {
      await prisma.recoveryCode.createMany({ data: toCodeRows(userId, codeHashes, now) });
    },

    /** Kills every earlier code and stores the new ones (two statements: run it in a transaction). */
    async replaceRecoveryCodes(userId: string, codeHashes: string[], now: Date) {
      await prisma.recoveryCode.deleteMany({ where: { userId } });
      await prisma.recoveryCode.createMany({ data: toCodeRows(userId, codeHashes, now) });
    },

    /** Removes TOTP, recovery codes and the failure count (turning 2SV off, support reset). Run it in a transaction. */
    async removeSecondFactors(userId: string) {
      await prisma.totpFactor.deleteMany({ where: { userId } });
      await prisma.recoveryCode.deleteMany({ where: { userId } });
      await prisma.secondFactorThrottle.deleteMany({ where: { userId } });
    },

    /** The failure state and the active factor in one round trip: what every TOTP check starts with. */
    async totpState(userId: string): Promise<TotpState | null> {
      const rows = await prisma.$queryRaw<TotpStateRow[]>`
        SELECT t.failures, t.blocked_until, f.id, f.status, f.secret_ciphertext, f.encryption_key_id,
               f.last_used_step, f.confirmed_at, f.disabled_at, f.drift_streak
        FROM users u
          LEFT JOIN second_factor_throttles t ON t.user_id = u.id
          LEFT JOIN totp_factors f ON f.user_id = u.id AND f.status = 'active'
        WHERE u.id = ${userId}::uuid`;
      const row = rows[0];
      return row ? toTotpState(userId, row) : null;
    },

    /**
     * Everything the TOTP second step decides on, in one round trip: the
     * challenge its MFA token names (live or not: the caller tells which), and
     * that person's failure state and active factor.
     */
    async secondStepState(tokenHash: string): Promise<{ challenge: ChallengeRow; totp: TotpState } | null> {
      const rows = await prisma.$queryRaw<SecondStepRow[]>`
        SELECT c.id AS challenge_id, c.user_id, c.purpose, c.amr, c.auth_time, c.attempts, c.expires_at, c.consumed_at,
               t.failures, t.blocked_until, f.id, f.status, f.secret_ciphertext, f.encryption_key_id,
               f.last_used_step, f.confirmed_at, f.disabled_at, f.drift_streak
        FROM auth_challenges c
          LEFT JOIN second_factor_throttles t ON t.user_id = c.user_id
          LEFT JOIN totp_factors f ON f.user_id = c.user_id AND f.status = 'active'
        WHERE c.token_hash = ${tokenHash}`;
      const row = rows[0];
      if (!row) return null;
      return {
        challenge: {
          id: row.challenge_id, userId: row.user_id, purpose: row.purpose, amr: row.amr, authTime: new Date(row.auth_time),
          attempts: Number(row.attempts), expiresAt: new Date(row.expires_at), consumedAt: row.consumed_at ? new Date(row.consumed_at) : null,
        },
        totp: toTotpState(row.user_id, row),
      };
    },

    /**
     * The second step's one conditional write: burns the TOTP step (only if no
     * step at or after it was accepted: the replay guard, OTP-05), then, only if
     * that burned it, consumes the MFA challenge under its attempt cap (single
     * use: of racing requests on one token exactly one consumes it), then, only
     * if that consumed it, clears the failure count (NIST SP 800-63B-4 §3.2.2).
     * Each step's row lock re-checks its condition, so this holds across instances.
     */
    async acceptTotpStep(input: {
      factorId: string; step: number; driftStreak?: number; userId: string; challenge: { id: string; now: Date; maxAttempts: number };
    }): Promise<{ burned: boolean; consumed: boolean }> {
      const rows = await prisma.$queryRaw<{ burned: number; consumed: number }[]>`
        WITH burned AS (
          UPDATE totp_factors SET last_used_step = ${BigInt(input.step)}, drift_streak = COALESCE(${input.driftStreak ?? null}::int, drift_streak)
          WHERE id = ${input.factorId}::uuid AND disabled_at IS NULL AND (last_used_step IS NULL OR last_used_step < ${BigInt(input.step)})
          RETURNING id),
        consumed AS (${consumeStatement(input.challenge, Prisma.sql`EXISTS (SELECT 1 FROM burned)`)}),
        cleared AS (
          DELETE FROM second_factor_throttles WHERE user_id = ${input.userId}::uuid AND EXISTS (SELECT 1 FROM consumed)
          RETURNING user_id)
        SELECT (SELECT count(*) FROM burned)::int AS burned, (SELECT count(*) FROM consumed)::int AS consumed`;
      const row = rows[0];
      return { burned: Number(row?.burned) === 1, consumed: Number(row?.consumed) === 1 };
    },

    async failureState(userId: string): Promise<{ failures: number; blockedUntil: Date | null }> {
      const row = await prisma.secondFactorThrottle.findUnique({ where: { userId }, select: { failures: true, blockedUntil: true } });
      return row ?? { failures: 0, blockedUntil: null };
    },

    /** Counts one more consecutive failure atomically (one upsert) and returns the new count. */
    async addFailure(userId: string): Promise<number> {
      const row = await prisma.secondFactorThrottle.upsert({
        where: { userId },
        create: { userId, failures: 1 },
        update: { failures: { increment: 1 } },
        select: { failures: true },
      });
      return row.failures;
    },

    async blockUntil(userId: string, until: Date) {
      await prisma.secondFactorThrottle.update({ where: { userId }, data: { blockedUntil: until } });
    },

    async disableActiveFactor(userId: string, now: Date) {
      await prisma.totpFactor.updateMany({ where: { userId, status: "active", disabledAt: null }, data: { disabledAt: now } });
    },

    async clearFailures(userId: string) {
      await prisma.secondFactorThrottle.deleteMany({ where: { userId } });
    },

    /**
     * The person and everything GET /v1/me and support tools show of their
     * second factors, in one round trip (JSON aggregation): the active factor,
     * unused recovery codes, live trusted devices, the company mandates that
     * reach them (as member, or as assignee on a client of their office) and
     * their paired apps (active, or awaiting confirmation). Null: no such person.
     */
    async securitySnapshot(userId: string, now: Date): Promise<SecuritySnapshotRow | null> {
      const rows = await prisma.$queryRaw<RawSnapshot[]>`
        SELECT u.id, u.email, u.name, u.created_at,
          (SELECT json_build_object('confirmedAt', f.confirmed_at, 'disabledAt', f.disabled_at, 'driftStreak', f.drift_streak)
             FROM totp_factors f WHERE f.user_id = u.id AND f.status = 'active') AS factor,
          (SELECT count(*)::int FROM recovery_codes r WHERE r.user_id = u.id AND r.used_at IS NULL) AS recovery_codes,
          (SELECT count(*)::int FROM trusted_devices d WHERE d.user_id = u.id AND d.revoked_at IS NULL AND d.expires_at > ${now}) AS trusted_devices,
          (SELECT coalesce(json_agg(json_build_object('companyId', x.id, 'companyName', x.name, 'via', x.via) ORDER BY x.via_order, x.created_at), '[]'::json)
             FROM (
               SELECT c.id, c.name, 'membership' AS via, 0 AS via_order, m.created_at
                 FROM memberships m JOIN companies c ON c.id = m.company_id WHERE m.user_id = u.id AND c.mandatory_two_factor
               UNION ALL
               SELECT c.id, c.name, 'assignment', 1, a.created_at
                 FROM assignments a JOIN companies c ON c.id = a.client_id WHERE a.user_id = u.id AND c.mandatory_two_factor
             ) x) AS mandates,
          (SELECT coalesce(json_agg(json_build_object('id', p.id, 'name', p.name, 'status', p.status, 'algorithm', p.algorithm,
                    'createdAt', p.created_at, 'confirmedAt', p.confirmed_at, 'lastUsedAt', p.last_used_at) ORDER BY p.created_at), '[]'::json)
             FROM push_authenticators p
             WHERE p.user_id = u.id AND (p.status = 'active' OR (p.status = 'completed' AND p.pairing_expires_at > ${now}))) AS push_apps
        FROM users u WHERE u.id = ${userId}::uuid`;
      const row = rows[0];
      if (!row) return null;
      const date = (value: string | Date | null) => (value === null ? null : new Date(value));
      return {
        user: { id: row.id, email: row.email, name: row.name, createdAt: new Date(row.created_at) },
        factor: row.factor ? { confirmedAt: date(row.factor.confirmedAt), disabledAt: date(row.factor.disabledAt), driftStreak: Number(row.factor.driftStreak) } : null,
        recoveryCodesRemaining: Number(row.recovery_codes),
        trustedDevices: Number(row.trusted_devices),
        mandates: row.mandates,
        pushApps: row.push_apps.map((p) => ({
          id: p.id, name: p.name, status: p.status as PushAppRow["status"], algorithm: p.algorithm as PushAppRow["algorithm"],
          createdAt: new Date(p.createdAt), confirmedAt: date(p.confirmedAt), lastUsedAt: date(p.lastUsedAt),
        })),
      };
    },
  };
}

/** A paired app as the snapshot reads it (push/pairing.ts toView turns it into its view). */
export interface PushAppRow {
  id: string;
  name: string | null;
  status: "pairing" | "completed" | "active";
  algorithm: "ES256" | "EdDSA" | null;
  createdAt: Date;
  confirmedAt: Date | null;
  lastUsedAt: Date | null;
}

export interface SecuritySnapshotRow {
  user: { id: string; email: string; name: string; createdAt: Date };
  factor: { confirmedAt: Date | null; disabledAt: Date | null; driftStreak: number } | null;
  recoveryCodesRemaining: number;
  trustedDevices: number;
  mandates: { companyId: string; companyName: string; via: "membership" | "assignment" }[];
  pushApps: PushAppRow[];
}

interface RawSnapshot {
  id: string;
  email: string;
  name: string;
  created_at: Date;
  factor: { confirmedAt: string | null; disabledAt: string | null; driftStreak: number } | null;
  recovery_codes: number;
  trusted_devices: number;
  mandates: SecuritySnapshotRow["mandates"];
  push_apps: { id: string; name: string | null; status: string; algorithm: string | null; createdAt: string; confirmedAt: string | null; lastUsedAt: string | null }[];
}

export type MfaRepository = ReturnType<typeof createMfaRepository>;
