// Sessions: issuing token pairs, rotating refresh tokens, revocation, and the
// revocation-aware check behind every access token (checklist SJ-05..SJ-09).
import { randomUUID } from "node:crypto";
import type { JWTPayload } from "jose";
import type { PendingWrites } from "../db/database.ts";
import { AppError } from "../errors.ts";
import type { Clock } from "../lib/clock.ts";
import { randomToken, sha256 } from "../lib/identifiers.ts";
import type { AccessTokens, AccessClaims } from "./access-tokens.ts";
import type { SessionRecord, SessionRepository } from "./repository.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface SessionSettings {
  idleTimeoutSeconds: number;
  absoluteTimeoutSeconds: number;
  /** How recent the sign-in must be to end sessions (ENROLL_MAX_AUTH_AGE_SECONDS, ASVS 7.5.2). */
  maxAuthAgeSeconds: number;
  /**
   * How long a rotated refresh token still refreshes (0-60 s): the same client
   * racing itself (two tabs, a retried request whose answer was lost), as
   * Cognito's retry grace period, Hydra's graceful refresh and Auth0's reuse
   * interval allow. After it, presenting the token is reuse (RFC 9700 §4.14.2).
   */
  reuseGraceSeconds: number;
}

/**
 * Where session events go (the audit feature's EmitEvent, declared here: audit's
 * routes use this feature's guards, so importing audit would close a cycle).
 */
export type SessionEventSink = (type: string, userId: string | null, details?: Record<string, unknown>) => Promise<void>;

/** Where the current request comes from (audit request context), recorded with each new session. */
export type RequestOrigin = () => { clientAddress: string | null; userAgent: string | null };

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  sessionId: string;
}

export interface Principal extends AccessClaims {
  expiresAt: Date;
}

/** A verified access token whose session is live. */
export interface AuthenticatedToken {
  principal: Principal;
  payload: JWTPayload;
}

export function createSessionService(deps: {
  sessions: SessionRepository;
  accessTokens: AccessTokens;
  settings: SessionSettings;
  clock: Clock;
  origin: RequestOrigin;
  emit: SessionEventSink;
  /** Takes the request's pending rows (audit's takePendingWrites), written with the session in its one statement. */
  takePendingWrites?: () => PendingWrites;
  /** Asked at every refresh whether the session may go on (company policy hooks in here). */
  mayContinue?: (session: SessionRecord) => Promise<boolean>;
}) {
  const { sessions, accessTokens, settings, clock } = deps;

  function isLive(session: SessionRecord, now: Date): boolean {
    if (session.revokedAt || session.expiresAt <= now) return false;
    return now.getTime() - session.lastUsedAt.getTime() < settings.idleTimeoutSeconds * 1000;
  }

  async function pairFor(session: SessionRecord, refreshToken: string): Promise<TokenPair> {
    const accessToken = await accessTokens.issue({ userId: session.userId, sessionId: session.id, amr: session.amr, authTime: session.authTime });
    return { accessToken, refreshToken, expiresIn: accessTokens.ttlSeconds, sessionId: session.id };
  }

  /**
   * A new session for every authentication (ASVS 7.2.4). `announce` records
   * the events about it (its id is known before it is written): they are
   * stored in the session's own statement, and only if the session is.
   */
  async function start(userId: string, amr: string[], authTime: Date, announce?: (sessionId: string) => Promise<void>): Promise<TokenPair> {
    const now = clock.now();
    const id = randomUUID();
    const refreshToken = randomToken("rt");
    const earlier = deps.takePendingWrites?.();
    let session: SessionRecord | null;
    try {
      if (announce) await announce(id);
      const announced = deps.takePendingWrites?.();
      session = await sessions.create({
        id,
        userId,
        amr,
        authTime,
        now,
        expiresAt: new Date(now.getTime() + settings.absoluteTimeoutSeconds * 1000),
        refreshTokenHash: sha256(refreshToken),
        ...deps.origin(),
        earlier,
        announced,
      });
    } catch (error) {
      // Nothing was stored: the rows recorded before this sign-in go back to the request's batch.
      await earlier?.restore();
      throw error;
    }
    if (!session) throw new AppError("ACCOUNT_DISABLED", { subjectUserId: userId });
    return pairFor(session, refreshToken);
  }

  // A grace of 0 is off. Without that check a race read as "within grace": two requests
  // spending one token, the loser's clock reading taken before the winner's (another
  // instance, or the same one), give a negative age, which is less than 0 s.
  function withinGrace(spentAt: Date, now: Date): boolean {
    return settings.reuseGraceSeconds > 0 && now.getTime() - spentAt.getTime() < settings.reuseGraceSeconds * 1000;
  }

  async function refresh(refreshToken: string): Promise<TokenPair> {
    const now = clock.now();
    const found = await sessions.spendRefreshToken(sha256(refreshToken), now);
    if (!found) throw new AppError("INVALID_REFRESH_TOKEN", { logReason: "unknown" });
    const { session } = found;
    if (found.userDisabled) throw new AppError("ACCOUNT_DISABLED", { subjectUserId: session.userId });
    if (!found.spentNow && !withinGrace(found.spentAt, now)) {
      // A spent token presented again means a copy exists: end the family (RFC 9700 §4.14.2).
      await sessions.revoke(session.id, "refresh_token_reuse", now);
      await deps.emit("authn_token_reuse", session.userId, { sessionId: session.id, familyRevoked: true });
      throw new AppError("INVALID_REFRESH_TOKEN", { logReason: "reuse_detected" });
    }
    if (!isLive(session, now)) throw new AppError("INVALID_REFRESH_TOKEN", { logReason: "session_ended" });
    if (deps.mayContinue && !(await deps.mayContinue(session))) {
      await sessions.revoke(session.id, "policy_requires_reauthentication", now);
      throw new AppError("INVALID_REFRESH_TOKEN", { logReason: "policy" });
    }
    // A retry within the grace period gets a new token of its own, never the
    // spent one it presented: a client that kept the spent one would be
    // refused, or worse, revoke its family, once the grace period is over.
    const next = randomToken("rt");
    await sessions.addRefreshToken(session.id, sha256(next), now);
    await deps.emit("session_refreshed", session.userId, { sessionId: session.id });
    return pairFor(session, next);
  }

  function assertRecentSignIn(principal: Principal) {
    if (clock.now().getTime() - principal.authTime.getTime() > settings.maxAuthAgeSeconds * 1000) throw new AppError("REAUTHENTICATION_REQUIRED");
  }

  /** The person's live sessions, this one marked current (SJ-09). */
  async function list(principal: Principal) {
    const now = clock.now();
    const rows = await sessions.listLive(principal.userId, now, new Date(now.getTime() - settings.idleTimeoutSeconds * 1000));
    return rows.map((row) => ({ ...row, current: row.id === principal.sessionId }));
  }

  /** Ends one of the person's sessions; needs a recent sign-in. False when it is not theirs. */
  async function endOne(principal: Principal, sessionId: string): Promise<boolean> {
    assertRecentSignIn(principal);
    if (!(await sessions.revokeOwn(principal.userId, sessionId, "ended_by_user", clock.now()))) return false;
    await deps.emit("session_ended", principal.userId, { sessionId, current: sessionId === principal.sessionId });
    return true;
  }

  /** Ends every session of the person but this one; needs a recent sign-in. */
  async function endOthers(principal: Principal, reason = "ended_by_user"): Promise<number> {
    assertRecentSignIn(principal);
    const ended = await sessions.revokeAllForUser(principal.userId, reason, clock.now(), principal.sessionId);
    await deps.emit("other_sessions_ended", principal.userId, { ended, reason });
    return ended;
  }

  /** How many other live sessions the person has: what a factor change offers to end. */
  async function countOthers(principal: { userId: string; sessionId?: string }) {
    const now = clock.now();
    const rows = await sessions.listLive(principal.userId, now, new Date(now.getTime() - settings.idleTimeoutSeconds * 1000));
    return rows.filter((row) => row.id !== principal.sessionId).length;
  }

  /** The principal of verified claims whose session is live (SJ-07): the session exists, is the token's user's, and has not ended. */
  function principalOf(claims: NonNullable<Awaited<ReturnType<AccessTokens["read"]>>>, session: SessionRecord | null): AuthenticatedToken | null {
    if (!session || session.userId !== claims.userId || session.revokedAt || session.expiresAt <= clock.now()) return null;
    const principal = { userId: claims.userId, sessionId: claims.sessionId, amr: claims.amr, authTime: claims.authTime, expiresAt: new Date((claims.payload.exp ?? 0) * 1000) };
    return { principal, payload: claims.payload };
  }

  /** Verifies an access token and that its session has not been ended (SJ-07). */
  async function verifyAccessToken(token: string): Promise<AuthenticatedToken | null> {
    const claims = await accessTokens.read(token);
    if (!claims) return null;
    return principalOf(claims, await sessions.findById(claims.sessionId));
  }

  /**
   * Introspection of an access token in one round trip: the caller's client
   * row (by its key's hash, for the route to judge) read with the token's
   * session. Always checked against the database, never a cache, so a logout
   * or revocation is seen by every instance at once.
   */
  async function introspectAccessTokenFor(clientSecretHash: string, token: string) {
    const claims = await accessTokens.read(token);
    const sessionId = claims && UUID.test(claims.sessionId) ? claims.sessionId : null;
    const found = await sessions.findForIntrospection(clientSecretHash, sessionId);
    return { clientRow: found.client, access: claims && sessionId ? principalOf(claims, found.session) : null };
  }

  async function authenticate(token: string): Promise<Principal | null> {
    return (await verifyAccessToken(token))?.principal ?? null;
  }

  return {
    start,
    refresh,
    authenticate,
    /** The claims of an access token with its session checked, and the caller's client row, for introspection (one round trip). */
    introspectAccessTokenFor,
    list,
    endOne,
    endOthers,
    countOthers,
    async logout(principal: { userId: string; sessionId: string }) {
      await sessions.revoke(principal.sessionId, "logout", clock.now());
      await deps.emit("logout", principal.userId, { sessionId: principal.sessionId });
    },
    /** Sign-out by any refresh token of the session (cookie mode), spent or not; false when it names none. */
    async logoutByRefreshToken(token: string): Promise<boolean> {
      const found = await sessions.findRefreshToken(sha256(token));
      if (!found) return false;
      await sessions.revoke(found.session.id, "logout", clock.now());
      await deps.emit("logout", found.session.userId, { sessionId: found.session.id });
      return true;
    },
    revokeAllForUser: (userId: string, reason: string, exceptSessionId?: string) =>
      sessions.revokeAllForUser(userId, reason, clock.now(), exceptSessionId),
    /** A refresh token's state, for introspection. */
    async introspectRefreshToken(token: string) {
      const found = await sessions.findRefreshToken(sha256(token));
      if (!found || found.spentAt || !isLive(found.session, clock.now())) return null;
      return found.session;
    },
  };
}

export type SessionService = ReturnType<typeof createSessionService>;
