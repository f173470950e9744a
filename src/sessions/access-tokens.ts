// Access tokens: short-lived EdDSA JWTs in the RFC 9068 profile (typ "at+jwt").
// `amr` (RFC 8176) and `auth_time` say how and when the person authenticated, so
// a resource server (the bank integration) can demand a fresh second factor;
// `sid` ties the token to a session that logout and revocation end.
import type { JWTPayload } from "jose";
import type { KeyRing } from "../lib/signing-keys.ts";

export const ACCESS_TOKEN_TYP = "at+jwt";

export interface AccessClaims {
  userId: string;
  sessionId: string;
  amr: string[];
  authTime: Date;
}

export interface AccessTokenSettings {
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

export function createAccessTokens(keys: KeyRing, settings: AccessTokenSettings) {
  const profile = { typ: ACCESS_TOKEN_TYP, issuer: settings.issuer, audience: settings.audience };

  async function issue(claims: AccessClaims, ttlSeconds = settings.ttlSeconds): Promise<string> {
    return keys.sign("access", {
      ...profile,
      subject: claims.userId,
      expiresInSeconds: ttlSeconds,
      claims: { sid: claims.sessionId, amr: claims.amr, auth_time: Math.floor(claims.authTime.getTime() / 1000) },
    });
  }

  /** The claims of a valid token, or null: never throws on a bad token. */
  async function read(token: string): Promise<(AccessClaims & { payload: JWTPayload }) | null> {
    const payload = await keys.verify("access", token, profile);
    if (!payload) return null;
    const { sid, amr, auth_time: authTime, sub } = payload as JWTPayload & { sid?: unknown; amr?: unknown; auth_time?: unknown };
    if (typeof sid !== "string" || typeof sub !== "string" || typeof authTime !== "number") return null;
    if (!Array.isArray(amr) || !amr.every((m) => typeof m === "string")) return null;
    return { userId: sub, sessionId: sid, amr, authTime: new Date(authTime * 1000), payload };
  }

  return { issue, read, ttlSeconds: settings.ttlSeconds };
}

export type AccessTokens = ReturnType<typeof createAccessTokens>;
