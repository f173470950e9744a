// Ed25519 key ring for the JWTs we issue. Each token use has its own keys, so
// the signature alone already keeps a device token from passing as an access
// token and the reverse (RFC 8725 §3.12, "mutually exclusive validation rules").
import { randomBytes } from "node:crypto";
import { SignJWT, exportJWK, generateKeyPair, importJWK, jwtVerify } from "jose";
import type { CryptoKey, JWK, JWSHeaderParameters, JWTPayload } from "jose";
import type { Clock } from "./clock.ts";

export type KeyUse = "access" | "device";
export const KEY_USES: readonly KeyUse[] = ["access", "device"];
/** Skew allowed on exp/nbf/iat (SECURITY-CHECKLIST SJ-02: at most 30 s). */
export const CLOCK_TOLERANCE_SECONDS = 30;

export interface KeyRecord { kid: string; use: KeyUse; createdAt: string; retiredAt?: string; privateJwk: JWK }
export interface KeyFile { keys: KeyRecord[] }
export interface PublicJwk { kty: "OKP"; crv: "Ed25519"; x: string; kid: string; alg: "EdDSA"; use: "sig" }
export interface KeyRingOptions { retentionSeconds: Record<KeyUse, number> }
export interface VerifyRequest { typ: string; issuer: string; audience: string }
export interface SignRequest extends VerifyRequest { subject: string; expiresInSeconds: number; claims?: JWTPayload }
export interface KeyRing {
  activeKey(use: KeyUse): { kid: string; use: KeyUse; publicJwk: PublicJwk };
  jwks(): { keys: PublicJwk[] };
  sign(use: KeyUse, request: SignRequest): Promise<string>;
  verify(use: KeyUse, token: string, request: VerifyRequest): Promise<JWTPayload | null>;
}

// The use is part of the kid so a JWKS reader can tell the keys apart with
// only standard members ("use" is "sig" for both; RFC 7517 §4.2). The pattern
// also keeps an attacker's kid from ever being more than a map key (SJ-03).
const KID_PATTERN = /^(access|device)-[A-Za-z0-9_-]{16,64}$/;
const ED25519_MEMBER = /^[A-Za-z0-9_-]{43}$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
// A compact JWS we issue carries only these. Anything else, notably jku, jwk,
// x5u, x5c (RFC 7515 §4.1.2-4.1.6) or crit (§4.1.11), is refused outright
// rather than ignored: keys come only from this ring (RFC 8725 §3.10).
const ALLOWED_HEADER = new Set(["alg", "typ", "kid"]);
const REQUIRED_CLAIMS = ["iss", "aud", "sub", "exp", "iat", "jti"];

function randomId(bytes: number): string {
  return randomBytes(bytes).toString("base64url");
}

export async function generateKeyRecord(use: KeyUse, now: Date): Promise<KeyRecord> {
  const { privateKey } = await generateKeyPair("EdDSA", { extractable: true });
  const { kty, crv, x, d } = await exportJWK(privateKey);
  return { kid: `${use}-${randomId(16)}`, use, createdAt: now.toISOString(), privateJwk: { kty, crv, x, d } };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function invalid(at: string, problem: string): never {
  throw new Error(`signing key file: ${at} ${problem}`);
}

function isIsoDate(value: unknown): value is string {
  return typeof value === "string" && ISO_DATE.test(value) && !Number.isNaN(Date.parse(value));
}

function parsePrivateJwk(value: unknown, at: string): JWK {
  if (!isObject(value) || value.kty !== "OKP" || value.crv !== "Ed25519") invalid(at, 'must be an OKP JWK with crv "Ed25519"');
  const { x, d } = value;
  if (typeof x !== "string" || !ED25519_MEMBER.test(x)) invalid(at, "x must be 32 bytes base64url");
  if (typeof d !== "string" || !ED25519_MEMBER.test(d)) invalid(at, "d (the private key) must be 32 bytes base64url");
  return { kty: "OKP", crv: "Ed25519", x, d };
}

function parseKeyRecord(entry: unknown, at: string): KeyRecord {
  if (!isObject(entry)) invalid(at, "must be an object");
  const { kid, use, createdAt, retiredAt, privateJwk } = entry;
  if (use !== "access" && use !== "device") invalid(`${at}.use`, 'must be "access" or "device"');
  if (typeof kid !== "string" || !KID_PATTERN.test(kid) || !kid.startsWith(`${use}-`)) {
    invalid(`${at}.kid`, `must look like "${use}-" followed by 16-64 base64url characters`);
  }
  if (!isIsoDate(createdAt)) invalid(`${at}.createdAt`, "must be an ISO 8601 date-time");
  if (retiredAt !== undefined && !isIsoDate(retiredAt)) invalid(`${at}.retiredAt`, "must be an ISO 8601 date-time when present");
  const record: KeyRecord = { kid, use, createdAt, privateJwk: parsePrivateJwk(privateJwk, `${at}.privateJwk`) };
  return retiredAt === undefined ? record : { ...record, retiredAt };
}

function parseJson(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch {
    return invalid("content", "is not valid JSON");
  }
}

export function loadKeyFile(json: string): KeyFile {
  const parsed = parseJson(json);
  if (!isObject(parsed) || !Array.isArray(parsed.keys)) invalid("content", 'must be { "keys": [ ... ] }');
  const keys = parsed.keys.map((entry, i) => parseKeyRecord(entry, `keys[${i}]`));
  const seen = new Set<string>();
  for (const [i, { kid }] of keys.entries()) {
    // A JWK Set needs distinct kids for a verifier to pick the key (RFC 7517 §4.5).
    if (seen.has(kid)) invalid(`keys[${i}].kid`, `duplicates "${kid}"`);
    seen.add(kid);
  }
  return { keys };
}

export function serializeKeyFile(file: KeyFile): string {
  return `${JSON.stringify(file, null, 2)}\n`;
}

function isRetired(record: KeyRecord, now: Date): boolean {
  return record.retiredAt !== undefined && Date.parse(record.retiredAt) <= now.getTime();
}

/** Retires every live key of `use` (normally just the active one) and appends a fresh one. */
export async function rotateKeys(file: KeyFile, use: KeyUse, now: Date): Promise<KeyFile> {
  const retired = file.keys.map((k) => (k.use === use && !isRetired(k, now) ? { ...k, retiredAt: now.toISOString() } : k));
  return { keys: [...retired, await generateKeyRecord(use, now)] };
}

interface RingKey { record: KeyRecord; order: number; privateKey: CryptoKey; publicKey: CryptoKey; publicJwk: PublicJwk }

async function importRingKey(record: KeyRecord, order: number): Promise<RingKey> {
  const { x } = record.privateJwk as { x: string };
  const publicJwk: PublicJwk = { kty: "OKP", crv: "Ed25519", x, kid: record.kid, alg: "EdDSA", use: "sig" };
  try {
    // Node rejects a d that does not belong to x, so a hand-edited file cannot
    // publish a public key that never verifies what we sign.
    const privateKey = (await importJWK(record.privateJwk, "EdDSA", { extractable: false })) as CryptoKey;
    const publicKey = (await importJWK({ kty: "OKP", crv: "Ed25519", x }, "EdDSA")) as CryptoKey;
    return { record, order, privateKey, publicKey, publicJwk };
  } catch (cause) {
    throw new Error(`signing key file: key "${record.kid}" cannot be imported (x and d must be one Ed25519 pair)`, { cause });
  }
}

function assertRetention(retention: Record<KeyUse, number>): void {
  for (const use of KEY_USES) {
    const seconds = retention[use];
    if (!Number.isFinite(seconds) || seconds < 0) throw new Error(`retentionSeconds.${use} must be a non-negative number`);
  }
}

function assertSafeHeader(header: JWSHeaderParameters, typ: string): void {
  if (Object.keys(header).some((name) => !ALLOWED_HEADER.has(name))) throw new Error("unexpected header parameter");
  // jose compares typ case-insensitively and with an implied "application/";
  // each token profile here has one exact spelling (RFC 8725 §3.11).
  if (header.typ !== typ) throw new Error("unexpected typ");
  if (typeof header.kid !== "string" || !KID_PATTERN.test(header.kid)) throw new Error("malformed kid");
}

export async function createKeyRing(file: KeyFile, options: KeyRingOptions, clock: Clock): Promise<KeyRing> {
  assertRetention(options.retentionSeconds);
  const checked = loadKeyFile(JSON.stringify(file));
  const all = await Promise.all(checked.keys.map(importRingKey));
  // Map lookups only: a kid like "__proto__" or "../../x" is just a miss (SJ-03).
  const byUse: Record<KeyUse, Map<string, RingKey>> = { access: new Map(), device: new Map() };
  for (const key of all) byUse[key.record.use].set(key.record.kid, key);

  // A retired key stays published until tokens it signed have expired, so a
  // rotation never cuts off a live session (SECURITY-CHECKLIST SJ-04).
  function isPublished(key: RingKey, now: Date): boolean {
    const { retiredAt, use } = key.record;
    return retiredAt === undefined || now.getTime() < Date.parse(retiredAt) + options.retentionSeconds[use] * 1000;
  }

  function activeRingKey(use: KeyUse): RingKey {
    const now = clock.now();
    const live = [...byUse[use].values()].filter((key) => !isRetired(key.record, now));
    const newest = live.sort((a, b) => Date.parse(b.record.createdAt) - Date.parse(a.record.createdAt) || b.order - a.order)[0];
    if (!newest) throw new Error(`no active ${use} signing key`);
    return newest;
  }

  async function sign(use: KeyUse, request: SignRequest): Promise<string> {
    const { typ, issuer, audience, subject, expiresInSeconds, claims = {} } = request;
    if (!Number.isInteger(expiresInSeconds) || expiresInSeconds <= 0) throw new Error("expiresInSeconds must be a positive integer");
    const key = activeRingKey(use);
    const iat = Math.floor(clock.now().getTime() / 1000);
    // 16 random bytes: the jti is a revocation handle and must not be guessable (ASVS 11.5.1).
    const jti = typeof claims.jti === "string" ? claims.jti : randomId(16);
    return new SignJWT({ ...claims, jti })
      .setProtectedHeader({ alg: "EdDSA", typ, kid: key.record.kid }) // kid: RFC 7515 §4.1.4
      .setIssuer(issuer).setAudience(audience).setSubject(subject)
      .setIssuedAt(iat).setExpirationTime(iat + expiresInSeconds)
      .sign(key.privateKey);
  }

  async function verify(use: KeyUse, token: string, request: VerifyRequest): Promise<JWTPayload | null> {
    const now = clock.now();
    const resolveKey = (header: JWSHeaderParameters): CryptoKey => {
      assertSafeHeader(header, request.typ);
      const key = byUse[use].get(header.kid as string);
      if (!key || !isPublished(key, now)) throw new Error("unknown kid");
      return key.publicKey;
    };
    try {
      const { payload } = await jwtVerify(token, resolveKey, {
        algorithms: ["EdDSA"], // pinned in code, never taken from the token (RFC 8725 §3.1)
        typ: request.typ,
        issuer: request.issuer,
        audience: request.audience,
        requiredClaims: REQUIRED_CLAIMS,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        currentDate: now,
      });
      // jose checks iat only with maxTokenAge; we never date a token ahead of our clock.
      const issuedInFuture = (payload.iat ?? 0) > now.getTime() / 1000 + CLOCK_TOLERANCE_SECONDS;
      return issuedInFuture || typeof payload.sub !== "string" || typeof payload.jti !== "string" ? null : payload;
    } catch {
      return null;
    }
  }

  return {
    activeKey: (use) => {
      const { record, publicJwk } = activeRingKey(use);
      return { kid: record.kid, use: record.use, publicJwk: { ...publicJwk } };
    },
    jwks: () => {
      const now = clock.now();
      return { keys: all.filter((key) => isPublished(key, now)).map((key) => ({ ...key.publicJwk })) };
    },
    sign,
    verify,
  };
}
