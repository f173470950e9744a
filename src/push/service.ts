// The push challenge: after a correct password, a challenge bound to that MFA
// token, person and sign-in; answered once by a paired app's signed JWS; collected
// once by the sign-in page holding the MFA token (ASVS 5.0 V6.6.2 binding).
// Fatigue rules (PUSH-ANCHORS §5.2, §5.14): one pending challenge per person, a
// doubling wait after each unapproved push, "This wasn't me" blocks pushes, and
// rejections count as second-factor failures (never as password failures).
import { randomInt } from "node:crypto";
import type { FastifyBaseLogger } from "fastify";
import { AppError } from "../errors.ts";
import { AMR } from "../lib/amr.ts";
import type { Clock } from "../lib/clock.ts";
import type { EmitEvent } from "../audit/events.ts";
import type { Transaction } from "../db/database.ts";
import type { DeviceService } from "../devices/service.ts";
import type { ChallengeService } from "../mfa/challenges.ts";
import type { SecondFactorChecker } from "../mfa/second-factor.ts";
import type { SecondStepService } from "../mfa/second-step.ts";
import { ANSWER_TYP, assertFresh, assertJti, keyIdOf, MAX_ANSWER_LIFETIME_SECONDS, verifiedPayload } from "./app-signature.ts";
import type { AuthenticatorRecord, PushAuthenticatorRepository } from "./authenticator-repository.ts";
import type { PushChallengeRecord, PushChallengeRepository } from "./challenge-repository.ts";
import { contextHash, contextOf } from "./context.ts";
import type { PushSender } from "./delivery/sender.ts";
import { longPoll, type Wakeup } from "./wakeup.ts";

export const MAX_WAIT_SECONDS = 25;
const RESET_AFTER_MS = 86_400_000;

export interface PushSettings {
  challengeTtlSeconds: number;
  numberMatching: boolean;
  minWaitSeconds: number;
  maxWaitSeconds: number;
  notMeBlockSeconds: number;
  publicUrl: string;
  serviceName: string;
}

export const pushWaitAfter = (unapproved: number, s: Pick<PushSettings, "minWaitSeconds" | "maxWaitSeconds">) =>
  Math.min(s.minWaitSeconds * 2 ** Math.min(unapproved - 1, 30), s.maxWaitSeconds);

const userKey = (userId: string) => `user:${userId}`;
const challengeKey = (id: string) => `challenge:${id}`;

export function createPushService(deps: {
  authenticators: PushAuthenticatorRepository;
  pushChallenges: PushChallengeRepository;
  transaction: Transaction<{ pushChallenges: PushChallengeRepository }>;
  challenges: Pick<ChallengeService, "attempt" | "holder" | "consume">;
  checker: Pick<SecondFactorChecker, "assertNotWaiting" | "countFailure" | "clearFailures">;
  startSession: SecondStepService["authenticated"];
  devices: Pick<DeviceService, "trust">;
  sender: PushSender;
  wakeup: Wakeup;
  claimOnce: (key: string, windowMs: number) => Promise<boolean>;
  onEvent: EmitEvent;
  clock: Clock;
  log: FastifyBaseLogger;
  settings: PushSettings;
}) {
  const { pushChallenges, clock, settings } = deps;
  const secondsUntil = (date: Date) => Math.max(1, Math.ceil((date.getTime() - clock.now().getTime()) / 1000));

  async function assertMaySend(userId: string) {
    await deps.checker.assertNotWaiting(userId);
    const throttle = await pushChallenges.throttleState(userId);
    const now = clock.now();
    if (throttle?.blockedUntil && throttle.blockedUntil > now) {
      await deps.onEvent("push_blocked", userId, { reason: "not_me", retryAfterSeconds: secondsUntil(throttle.blockedUntil) });
      throw new AppError("PUSH_BLOCKED", { retryAfterSeconds: secondsUntil(throttle.blockedUntil) });
    }
    if (throttle?.nextPushAt && throttle.nextPushAt > now) throw new AppError("PUSH_TOO_SOON", { retryAfterSeconds: secondsUntil(throttle.nextPushAt) });
  }

  /** Delivery after commit, never awaited by the request: a failed send never fails a sign-in. */
  function deliver(apps: AuthenticatorRecord[], challengeId: string, expiresAt: Date) {
    for (const app of apps) {
      if (!app.pushAddress) continue;
      const kind = app.pushAddress.kind;
      void deps.sender.send(app.pushAddress, { challengeId, expiresAt })
        .then(async (outcome) => {
          // A push service that calls the address gone will never deliver to it again: forget it (the app still polls).
          if (outcome === "gone") await deps.authenticators.clearAddress(app.id);
          await deps.onEvent("push_delivery", app.userId, { challengeId, authenticatorId: app.id, kind, outcome });
        })
        .catch((error: unknown) => deps.log.warn({ err: error, authenticatorId: app.id }, "push delivery failed"));
    }
  }

  async function start(input: { mfaToken: string; rememberDevice?: boolean; deviceName?: string }, request: { clientAddress: string; userAgent: string | null }) {
    const challenge = await deps.challenges.attempt(input.mfaToken, "mfa");
    const { userId } = challenge;
    const apps = await deps.authenticators.listActive(userId);
    if (apps.length === 0) throw new AppError("PUSH_NOT_PAIRED");
    await assertMaySend(userId);
    const now = clock.now();
    const expiresAt = new Date(now.getTime() + settings.challengeTtlSeconds * 1000);
    const numberToMatch = String(randomInt(0, 100)).padStart(2, "0");
    const challengeId = await deps.transaction(async (tx) => {
      const charged = await tx.pushChallenges.chargePush({ userId, now, resetBefore: new Date(now.getTime() - RESET_AFTER_MS), waitSeconds: (n) => pushWaitAfter(n, settings) });
      if (!charged) throw new AppError("PUSH_TOO_SOON", { retryAfterSeconds: settings.minWaitSeconds });
      await tx.pushChallenges.supersedePending(userId, now);
      return tx.pushChallenges.insert({
        userId, mfaChallengeId: challenge.id, numberToMatch, rememberDevice: input.rememberDevice ?? false, deviceName: input.deviceName ?? null,
        clientAddress: request.clientAddress, userAgent: request.userAgent?.slice(0, 300) ?? null, createdAt: now, expiresAt,
      });
    });
    await deps.onEvent("push_sent", userId, { challengeId, apps: apps.length });
    await deps.wakeup.signal(userKey(userId));
    deliver(apps, challengeId, expiresAt);
    return { challengeId, expiresIn: settings.challengeTtlSeconds, numberToMatch: settings.numberMatching ? numberToMatch : null };
  }

  /** A pending challenge past its expiry is recorded as expired by whoever sees it first. */
  async function settle(row: PushChallengeRecord): Promise<PushChallengeRecord> {
    if (row.status !== "pending" || row.expiresAt > clock.now()) return row;
    if (await pushChallenges.expire(row.id, clock.now())) await deps.onEvent("push_expired", row.userId, { challengeId: row.id });
    return { ...row, status: "expired" };
  }

  /** Mints the session once: the MFA token is consumed atomically, so racing collectors get one session between them. */
  async function collect(row: PushChallengeRecord, mfaChallenge: { id: string; amr: string[] }) {
    if (!(await deps.challenges.consume(mfaChallenge.id))) throw new AppError("INVALID_MFA_TOKEN", { logReason: "push_collected_concurrently" });
    const session = await deps.startSession(row.userId, [...mfaChallenge.amr, AMR.push, AMR.multiFactor], clock.now());
    const name = row.deviceName ?? "Unnamed device";
    await deps.onEvent("mfa_verify_success", row.userId, { method: "push", challengeId: row.id });
    const device = row.rememberDevice
      ? await deps.devices.trust(row.userId, name, (deviceId) => deps.onEvent("trusted_device_issued", row.userId, { deviceId, name }))
      : undefined;
    return { ...session, ...(device ? { deviceToken: device.deviceToken } : {}) };
  }

  /** The sign-in page's long poll, bound to the MFA token: nobody else can collect the session. */
  async function waitForAnswer(challengeId: string, mfaToken: string, waitSeconds: number) {
    const mfaChallenge = await deps.challenges.holder(mfaToken, "mfa");
    if (!mfaChallenge) throw new AppError("INVALID_MFA_TOKEN");
    const first = await pushChallenges.findById(challengeId);
    if (!first || first.mfaChallengeId !== mfaChallenge.id) throw new AppError("NOT_FOUND");
    const row = await longPoll(deps.wakeup, [challengeKey(challengeId)], Math.min(waitSeconds, MAX_WAIT_SECONDS) * 1000, async () => {
      const current = await settle((await pushChallenges.findById(challengeId)) ?? first);
      return current.status === "pending" ? null : current;
    }) ?? { ...first, status: "pending" as const };
    switch (row.status) {
      case "approved": return collect(row, mfaChallenge);
      case "rejected": return { status: "rejected" as const, reason: row.reason ?? "declined" };
      case "pending": return { status: "pending" as const, expiresIn: secondsUntil(row.expiresAt) };
      default: return { status: "expired" as const };
    }
  }

  /** The app's long poll: its person's live pending challenges, with the context to decide on. */
  async function listForApp(app: AuthenticatorRecord, waitSeconds: number) {
    const rows = await longPoll(deps.wakeup, [userKey(app.userId)], Math.min(waitSeconds, MAX_WAIT_SECONDS) * 1000, async () => {
      const pending = await pushChallenges.listPending(app.userId, clock.now());
      return pending.length > 0 ? pending : null;
    }) ?? [];
    return {
      challenges: rows.map((row) => {
        const context = contextOf(row, settings.serviceName);
        return { id: row.id, ...context, numberRequired: settings.numberMatching, contextHash: contextHash(context) };
      }),
    };
  }

  async function readAnswer(app: AuthenticatorRecord, challengeId: string, jws: string) {
    if (keyIdOf(jws) !== app.thumbprint) throw new AppError("INVALID_APP_SIGNATURE", { logReason: "answer_kid" });
    const claims = await verifiedPayload(jws, { jwk: app.publicJwk!, algorithm: app.algorithm! }, ANSWER_TYP);
    if (!claims || claims.aud !== settings.publicUrl || claims.cid !== challengeId) throw new AppError("INVALID_APP_SIGNATURE", { logReason: "answer_claims" });
    assertFresh(claims, clock);
    const now = clock.now().getTime() / 1000;
    if (typeof claims.exp !== "number" || claims.exp <= now || claims.exp - (claims.iat as number) > MAX_ANSWER_LIFETIME_SECONDS) {
      throw new AppError("INVALID_APP_SIGNATURE", { logReason: "answer_exp" });
    }
    if (claims.decision !== "approve" && claims.decision !== "reject") throw new AppError("VALIDATION_FAILED", { detail: "decision is approve or reject" });
    const jti = assertJti(claims);
    return { claims, jti, decision: claims.decision };
  }

  /** The app's signed answer: moves the challenge from pending exactly once. */
  async function answer(app: AuthenticatorRecord, challengeId: string, jws: string, log: FastifyBaseLogger) {
    const { claims, jti, decision } = await readAnswer(app, challengeId, jws);
    const row = await pushChallenges.findById(challengeId);
    if (!row || row.userId !== app.userId) throw new AppError("NOT_FOUND");
    if (claims.ctx !== contextHash(contextOf(row, settings.serviceName))) throw new AppError("PUSH_CONTEXT_MISMATCH");
    if (!(await deps.claimOnce(`push-jti:${app.thumbprint}:${jti}`, 2 * 120_000))) throw new AppError("INVALID_APP_SIGNATURE", { logReason: "jti_replayed" });
    const wrongNumber = decision === "approve" && settings.numberMatching && claims.number !== row.numberToMatch;
    const approved = decision === "approve" && !wrongNumber;
    const reason = approved ? null : wrongNumber ? "wrong_number" : claims.reason === "not_me" ? "not_me" : "declined";
    const now = clock.now();
    if (!(await pushChallenges.answer({ id: row.id, userId: row.userId, status: approved ? "approved" : "rejected", authenticatorId: app.id, reason, now }))) {
      throw new AppError("PUSH_NOT_PENDING");
    }
    await deps.authenticators.touch(app.id, now);
    if (approved) await afterApproval(row, app);
    else await afterRejection(row, app, reason!, log);
    await deps.wakeup.signal(challengeKey(row.id));
    return { status: approved ? ("approved" as const) : ("rejected" as const), ...(reason ? { reason } : {}) };
  }

  async function afterApproval(row: PushChallengeRecord, app: AuthenticatorRecord) {
    await pushChallenges.resetWait(row.userId);
    await deps.checker.clearFailures(row.userId);
    await deps.onEvent("push_approved", row.userId, { challengeId: row.id, authenticatorId: app.id });
  }

  async function afterRejection(row: PushChallengeRecord, app: AuthenticatorRecord, reason: string, log: FastifyBaseLogger) {
    await deps.onEvent("push_rejected", row.userId, { challengeId: row.id, authenticatorId: app.id, reason });
    await deps.checker.countFailure(row.userId, `push_${reason}`, log);
    if (reason !== "not_me") return;
    const until = new Date(clock.now().getTime() + settings.notMeBlockSeconds * 1000);
    await deps.transaction(async (tx) => {
      await tx.pushChallenges.block(row.userId, until);
      await deps.onEvent("push_blocked", row.userId, { reason: "not_me", until: until.toISOString() });
    });
  }

  return { start, waitForAnswer, listForApp, answer };
}

export type PushService = ReturnType<typeof createPushService>;
