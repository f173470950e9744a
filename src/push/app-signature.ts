// Every request of an authenticator app is a JWS by the key it registered at
// pairing, not a bearer secret (a stolen list response or log line grants
// nothing). Algorithms are pinned per key (RFC 8725 §3.1): ES256 on P-256, or
// EdDSA on Ed25519. Freshness is `iat` within 120 s and single use is the `jti`,
// claimed once across instances (PUSH-ANCHORS §4 "Replay").
import { calculateJwkThumbprint, compactVerify, decodeProtectedHeader, importJWK, type JWK } from "jose";
import { AppError } from "../errors.ts";
import type { Clock } from "../lib/clock.ts";
import type { AppKeyAlgorithm } from "./authenticator-repository.ts";

export const MAX_CLOCK_SKEW_SECONDS = 120;
export const MAX_ANSWER_LIFETIME_SECONDS = 60;

export const REQUEST_TYP = "app-request+jwt";
export const ANSWER_TYP = "push-answer+jwt";
export const PAIRING_TYP = "push-pairing+jwt";

/** The public members of a supported key, and its pinned algorithm; null for anything else (private keys included). */
export function publicAppKey(jwk: Record<string, unknown>): { jwk: Record<string, string>; algorithm: AppKeyAlgorithm } | null {
  if ("d" in jwk) return null;
  const str = (v: unknown) => typeof v === "string" && /^[A-Za-z0-9_-]{16,200}$/.test(v);
  if (jwk.kty === "EC" && jwk.crv === "P-256" && str(jwk.x) && str(jwk.y)) {
    return { jwk: { kty: "EC", crv: "P-256", x: jwk.x as string, y: jwk.y as string }, algorithm: "ES256" };
  }
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519" && str(jwk.x)) return { jwk: { kty: "OKP", crv: "Ed25519", x: jwk.x as string }, algorithm: "EdDSA" };
  return null;
}

export const thumbprintOf = (jwk: Record<string, string>) => calculateJwkThumbprint(jwk as JWK, "sha256");

/** The `kid` (the key's thumbprint) a JWS names, or null when it is not a JWS at all. */
export function keyIdOf(jws: string): string | null {
  try {
    const kid = decodeProtectedHeader(jws).kid;
    return typeof kid === "string" && kid.length <= 100 ? kid : null;
  } catch {
    return null;
  }
}

/** The payload of a JWS by this key with this typ, or null (bad signature, other algorithm, other typ, not JSON). */
export async function verifiedPayload(jws: string, key: { jwk: Record<string, string>; algorithm: AppKeyAlgorithm }, typ: string): Promise<Record<string, unknown> | null> {
  try {
    const publicKey = await importJWK(key.jwk as JWK, key.algorithm);
    const { payload, protectedHeader } = await compactVerify(jws, publicKey, { algorithms: [key.algorithm] });
    if (protectedHeader.typ !== typ) return null;
    const claims = JSON.parse(new TextDecoder().decode(payload)) as unknown;
    return typeof claims === "object" && claims !== null && !Array.isArray(claims) ? (claims as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** `iat` within the allowed skew of the server clock (the server's time is the truth, ASVS 6.5.8). */
export function assertFresh(claims: Record<string, unknown>, clock: Clock) {
  const now = clock.now().getTime() / 1000;
  if (typeof claims.iat !== "number" || Math.abs(now - claims.iat) > MAX_CLOCK_SKEW_SECONDS) {
    throw new AppError("INVALID_APP_SIGNATURE", { logReason: "iat_out_of_window" });
  }
}

export function assertJti(claims: Record<string, unknown>): string {
  const jti = claims.jti;
  if (typeof jti !== "string" || !/^[A-Za-z0-9_-]{16,100}$/.test(jti)) throw new AppError("INVALID_APP_SIGNATURE", { logReason: "jti_missing" });
  return jti;
}
