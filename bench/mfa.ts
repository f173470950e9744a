// Second-step fixtures for mfa-verify and device-login:
// - the run's key material (SIGNING_KEYS, ENCRYPTION_KEYS), so the bench can seal TOTP seeds and
//   check device tokens itself;
// - TOTP codes computed here with node:crypto (RFC 6238, synchronous: autocannon's setupRequest
//   cannot await), cross-checked against src/lib/totp.ts before use;
// - users with an active TOTP factor and live MFA challenges, inserted with SQL in batches;
// - the order in which (MFA token, code) pairs go out, so every second step can succeed;
// - trusted devices obtained over the public HTTP flow.
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import pg from "pg";
import { seedAad } from "../src/mfa/second-factor.ts";
import { DEVICE_TOKEN_AUDIENCE, DEVICE_TOKEN_TYP } from "../src/devices/service.ts";
import { systemClock } from "../src/lib/clock.ts";
import { randomToken, sha256 } from "../src/lib/identifiers.ts";
import { createSecretBox, parseEncryptionKeys } from "../src/lib/secret-box.ts";
import { createKeyRing, generateKeyRecord, serializeKeyFile, type KeyFile } from "../src/lib/signing-keys.ts";
import { generateTotpCode, generateTotpSecret } from "../src/lib/totp.ts";
import type { BenchKeys } from "./context.ts";
import { mapLimit, postJson, type BenchUser } from "./seed.ts";

/** RFC 6238 X = 30 s, T0 = 0, as src/lib/totp.ts. */
export const STEP_MS = 30_000;

/** Fresh signing keys (access, device) and one AES-256 key, as a production operator would configure them. */
export async function generateBenchKeys(now = new Date()): Promise<BenchKeys> {
  const signingKeys: KeyFile = { keys: [await generateKeyRecord("access", now), await generateKeyRecord("device", now)] };
  const ENCRYPTION_KEYS = `bench1:${randomBytes(32).toString("base64url")}`;
  const encryptionKeys = parseEncryptionKeys(ENCRYPTION_KEYS);
  return { signingKeys, encryptionKeys, activeEncryptionKeyId: "bench1", env: { SIGNING_KEYS: serializeKeyFile(signingKeys), ENCRYPTION_KEYS } };
}

// ---------------------------------------------------------------------------------------------
// TOTP
// ---------------------------------------------------------------------------------------------

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 §6 Base32 (no padding), the seed format of generateTotpSecret(). */
export function base32Decode(text: string): Buffer {
  const bytes: number[] = [];
  let bits = 0;
  let value = 0;
  for (const char of text.replace(/=+$/, "").toUpperCase()) {
    const index = BASE32.indexOf(char);
    if (index < 0) throw new Error("TOTP seed is not Base32");
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(bytes);
}

/** The time step of a Unix time in milliseconds (RFC 6238 §4.2). */
export const stepAt = (ms: number) => Math.floor(ms / STEP_MS);

/** HOTP (RFC 4226 §5.3) of a time step: HMAC-SHA-1, dynamic truncation, 6 digits. */
export function totpCode(key: Buffer, step: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = ((mac[offset]! & 0x7f) << 24) | (mac[offset + 1]! << 16) | (mac[offset + 2]! << 8) | mac[offset + 3]!;
  return String(binary % 1_000_000).padStart(6, "0");
}

/** Fails unless this file's codes equal the service's own (src/lib/totp.ts, otplib) for steps around now. */
export async function crossCheckTotp(secrets: readonly string[]): Promise<void> {
  const now = stepAt(Date.now());
  for (const secret of secrets) {
    for (const step of [now - 1, now, now + 1]) {
      const ours = totpCode(base32Decode(secret), step);
      const theirs = await generateTotpCode(secret, new Date(step * STEP_MS));
      if (ours !== theirs) throw new Error(`bench TOTP disagrees with src/lib/totp.ts at step ${step}: ${ours} vs ${theirs}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// mfa-verify: users, factors and challenges inserted with SQL
// ---------------------------------------------------------------------------------------------

export interface MfaUser {
  id: string;
  /** The HMAC key (the decoded seed). */
  key: Buffer;
  /** Unused MFA tokens of this user, each for its own live challenge. */
  tokens: string[];
  nextToken: number;
  /** Lowest time step the server can still accept for this user (its last accepted step + 1). */
  nextStep: number;
  /** A request of this user is on the wire: never two at once, or a later step could overtake an earlier one. */
  inFlight: boolean;
}

export interface MfaSeed {
  users: MfaUser[];
  /** LIKE pattern of the seeded users' emails (for the reconciliation after the run). */
  emailPattern: string;
  challenges: number;
  expiresAt: Date;
  seconds: { total: number; crypto: number; sql: number; analyze: number };
}

const BATCH_ROWS = 5_000;

/** Runs `insert(slice)` over `rows` in batches of BATCH_ROWS (one multi-row INSERT … SELECT FROM unnest(…) each). */
async function inBatches<T>(rows: readonly T[], insert: (slice: readonly T[]) => Promise<unknown>): Promise<void> {
  for (let at = 0; at < rows.length; at += BATCH_ROWS) await insert(rows.slice(at, at + BATCH_ROWS));
}

/**
 * `userCount` users, each with one active TOTP factor (seed sealed with the server's key and
 * AAD seedAad(userId, factorId), last_used_step NULL) and `challengesPerUser` live MFA
 * challenges (purpose mfa, amr {pwd}, token_hash = sha256(token), expiring after ttlSeconds),
 * in one transaction. All users share one argon2id hash: their password is never checked here.
 */
export async function seedMfaUsers(databaseUrl: string, input: {
  userCount: number;
  challengesPerUser: number;
  passwordHash: string;
  keys: BenchKeys;
  ttlSeconds: number;
}): Promise<MfaSeed> {
  const started = performance.now();
  const box = createSecretBox(input.keys.encryptionKeys, input.keys.activeEncryptionKeyId);
  const tag = randomBytes(3).toString("hex");
  const now = new Date();
  const expiresAt = new Date(now.getTime() + input.ttlSeconds * 1000);
  const users: MfaUser[] = [];
  const userRows: Array<{ id: string; email: string; name: string }> = [];
  const factorRows: Array<{ id: string; userId: string; ciphertext: string }> = [];
  const challengeRows: Array<{ id: string; tokenHash: string; userId: string }> = [];
  const secrets: string[] = [];
  for (let i = 0; i < input.userCount; i++) {
    const id = randomUUID();
    const factorId = randomUUID();
    const secret = generateTotpSecret();
    if (i < 3) secrets.push(secret);
    const sealed = box.seal(secret, seedAad(id, factorId));
    if (sealed.keyId !== input.keys.activeEncryptionKeyId) throw new Error("sealed with an unexpected key");
    const tokens = Array.from({ length: input.challengesPerUser }, () => randomToken("mfa"));
    userRows.push({ id, email: `mfa-${tag}-${i}@bench.example.com`, name: `MFA Bench ${i}` });
    factorRows.push({ id: factorId, userId: id, ciphertext: sealed.ciphertext });
    for (const token of tokens) challengeRows.push({ id: randomUUID(), tokenHash: sha256(token), userId: id });
    users.push({ id, key: base32Decode(secret), tokens, nextToken: 0, nextStep: Number.NEGATIVE_INFINITY, inFlight: false });
  }
  await crossCheckTotp(secrets);
  const cryptoDone = performance.now();

  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  let sqlDone = cryptoDone;
  try {
    await client.query("BEGIN");
    await inBatches(userRows, (rows) => client.query(
      `INSERT INTO users (id, email, name, password_hash, password_changed_at, created_at, mfa_failures)
       SELECT u.id, u.email, u.name, $4, $5, $5, 0 FROM unnest($1::uuid[], $2::text[], $3::text[]) AS u(id, email, name)`,
      [rows.map((r) => r.id), rows.map((r) => r.email), rows.map((r) => r.name), input.passwordHash, now],
    ));
    await inBatches(factorRows, (rows) => client.query(
      `INSERT INTO totp_factors (id, user_id, status, secret_ciphertext, encryption_key_id, last_used_step, created_at, confirmed_at)
       SELECT f.id, f.user_id, 'active', f.ciphertext, $4, NULL, $5, $5 FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS f(id, user_id, ciphertext)`,
      [rows.map((r) => r.id), rows.map((r) => r.userId), rows.map((r) => r.ciphertext), input.keys.activeEncryptionKeyId, now],
    ));
    await inBatches(challengeRows, (rows) => client.query(
      `INSERT INTO auth_challenges (id, token_hash, purpose, user_id, amr, auth_time, attempts, created_at, expires_at)
       SELECT c.id, c.token_hash, 'mfa', c.user_id, ARRAY['pwd'], $4, 0, $4, $5 FROM unnest($1::uuid[], $2::text[], $3::uuid[]) AS c(id, token_hash, user_id)`,
      [rows.map((r) => r.id), rows.map((r) => r.tokenHash), rows.map((r) => r.userId), now, expiresAt],
    ));
    await client.query("COMMIT");
    sqlDone = performance.now();
    // Planner statistics now, rather than autovacuum's ANALYZE of these tables during the measured run.
    await client.query("ANALYZE users, totp_factors, auth_challenges");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    await client.end();
  }
  const done = performance.now();
  return {
    users,
    emailPattern: `mfa-${tag}-%`,
    challenges: challengeRows.length,
    expiresAt,
    seconds: { total: (done - started) / 1000, crypto: (cryptoDone - started) / 1000, sql: (sqlDone - cryptoDone) / 1000, analyze: (done - sqlDone) / 1000 },
  };
}

/** A deque of users without Array#shift's O(n) per call (it is asked thousands of times a second). */
class Queue<T> {
  private items: Array<T | undefined> = [];
  private head = 0;
  get length() {
    return this.items.length - this.head;
  }
  push(item: T) {
    this.items.push(item);
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

export interface SecondStepPick {
  user: MfaUser;
  token: string;
  code: string;
  step: number;
  /** step − T at send time: −1, 0 or +1. */
  offset: number;
}

/**
 * The order of (MFA token, code) pairs. The server accepts a user's code for step s when
 * T_server − 1 ≤ s ≤ T_server + 1 and s > the user's last accepted step; each token once.
 * At send time (T from Date.now(), the clock the server reads too):
 * - a user is taken from the front of one FIFO over all users and goes to its back, so the same
 *   user comes back only after every other ready user; a user with a request on the wire is skipped;
 * - its step is the lowest still acceptable: max(last step sent + 1, T − 1), or T within
 *   `marginMs` of the next step boundary. A code for T or T + 1 stays valid if the step rolls over
 *   before the server reads it; one for T − 1 would not, so T − 1 is used only while at least
 *   `marginMs` (the request timeout: a request that takes longer is a counted timeout anyway)
 *   remain in the step. Each user's steps therefore go T − 1, T, T + 1 in order, never twice;
 * - a user whose next step would be beyond T + 1 waits (parked) for the next step, then rejoins.
 * Exhausted (null) only when no user has a token and an acceptable step left.
 */
export class SecondStepQueue {
  private readonly ready = new Queue<MfaUser>();
  private parked: MfaUser[] = [];
  private step: number;
  readonly stats = { picked: 0, stepMinus1: 0, step0: 0, stepPlus1: 0, rollovers: 0, skippedInFlight: 0, parked: 0 };

  constructor(users: readonly MfaUser[], private readonly marginMs: number, private readonly now: () => number = Date.now) {
    for (const user of users) if (user.nextToken < user.tokens.length) this.ready.push(user);
    this.step = stepAt(this.now());
  }

  next(): SecondStepPick | null {
    const now = this.now();
    const step = stepAt(now);
    if (step !== this.step) {
      for (const user of this.parked) this.ready.push(user);
      this.parked = [];
      this.step = step;
      this.stats.rollovers++;
    }
    const lowest = (step + 1) * STEP_MS - now >= this.marginMs ? step - 1 : step;
    for (let tries = this.ready.length; tries > 0; tries--) {
      const user = this.ready.shift()!;
      if (user.inFlight) {
        this.ready.push(user);
        this.stats.skippedInFlight++;
        continue;
      }
      const chosen = Math.max(user.nextStep, lowest);
      if (chosen > step + 1) {
        this.parked.push(user);
        this.stats.parked++;
        continue;
      }
      const token = user.tokens[user.nextToken++]!;
      user.nextStep = chosen + 1;
      user.inFlight = true;
      if (user.nextToken < user.tokens.length) this.ready.push(user);
      const offset = chosen - step;
      this.stats.picked++;
      if (offset < 0) this.stats.stepMinus1++;
      else if (offset === 0) this.stats.step0++;
      else this.stats.stepPlus1++;
      return { user, token, code: totpCode(user.key, chosen), step: chosen, offset };
    }
    return null;
  }

  /** Tokens never sent. */
  unused(): number {
    let left = 0;
    for (const user of this.parked) left += user.tokens.length - user.nextToken;
    for (let i = this.ready.length; i > 0; i--) {
      const user = this.ready.shift()!;
      left += user.tokens.length - user.nextToken;
      this.ready.push(user);
    }
    return left;
  }
}

export interface MfaReconciliation {
  consumedChallenges: number;
  attemptedChallenges: number;
  otpSessions: number;
  verifyAuditEvents: number;
  usersWithFailures: number;
  factorsUsed: number;
}

/**
 * What the database says happened to the seeded users, once the server has finished the
 * requests still in flight when autocannon stopped (polled until two reads agree, at most ~5 s).
 */
export async function reconcileMfa(databaseUrl: string, emailPattern: string): Promise<MfaReconciliation> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    const read = async (): Promise<MfaReconciliation> => {
      const { rows } = await client.query<Record<string, number>>(
        `WITH u AS (SELECT id FROM users WHERE email LIKE $1)
         SELECT
           (SELECT count(*) FROM auth_challenges c JOIN u ON u.id = c.user_id WHERE c.consumed_at IS NOT NULL)::int AS consumed,
           (SELECT count(*) FROM auth_challenges c JOIN u ON u.id = c.user_id WHERE c.attempts > 0)::int AS attempted,
           (SELECT count(*) FROM sessions s JOIN u ON u.id = s.user_id WHERE 'otp' = ANY(s.amr) AND 'mfa' = ANY(s.amr))::int AS sessions,
           (SELECT count(*) FROM audit_events a JOIN u ON u.id = a.subject_user_id WHERE a.type = 'mfa_verify_success')::int AS audit,
           (SELECT count(*) FROM users x JOIN u ON u.id = x.id WHERE x.mfa_failures > 0 OR x.mfa_blocked_until IS NOT NULL)::int AS failing,
           (SELECT count(*) FROM totp_factors f JOIN u ON u.id = f.user_id WHERE f.last_used_step IS NOT NULL)::int AS used`,
        [emailPattern],
      );
      const row = rows[0]!;
      return {
        consumedChallenges: Number(row.consumed), attemptedChallenges: Number(row.attempted), otpSessions: Number(row.sessions),
        verifyAuditEvents: Number(row.audit), usersWithFailures: Number(row.failing), factorsUsed: Number(row.used),
      };
    };
    let last = await read();
    for (let i = 0; i < 20; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const now = await read();
      if (JSON.stringify(now) === JSON.stringify(last)) return now;
      last = now;
    }
    return last;
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------------
// device-login: trusted devices over the public HTTP flow
// ---------------------------------------------------------------------------------------------

export interface DeviceUser extends BenchUser {
  deviceToken: string;
}

function expect(ok: boolean, what: string, res: { status: number; json: unknown }): void {
  if (!ok) throw new Error(`${what} → ${res.status} ${JSON.stringify(res.json).slice(0, 300)}`);
}

/**
 * For each (new, factor-less) user, as a person would: sign in with the password, set up an
 * authenticator (POST /v1/me/mfa/totp, confirm with the code of the current step), sign in again
 * (mfa_required), pass the second step with the next acceptable code and rememberDevice. Four
 * argon2id operations per user (the sign-ins and the recovery code's hash; the user's own hash
 * was made at creation). Returns each user with its device token.
 */
export async function trustDevices(baseUrl: string, users: readonly BenchUser[], concurrency: number): Promise<DeviceUser[]> {
  return mapLimit(users, concurrency, async (user, i) => {
    const first = await postJson(`${baseUrl}/v1/auth/login`, user);
    const session = first.json as { status?: string; accessToken?: string };
    expect(first.status === 200 && session.status === "authenticated" && !!session.accessToken, "POST /v1/auth/login (before 2SV)", first);
    const bearer = { authorization: `Bearer ${session.accessToken}` };

    const enrol = await postJson(`${baseUrl}/v1/me/mfa/totp`, {}, bearer);
    const secret = (enrol.json as { secret?: string }).secret;
    expect(enrol.status === 200 && typeof secret === "string", "POST /v1/me/mfa/totp", enrol);
    const key = base32Decode(secret!);
    const confirmStep = stepAt(Date.now());
    const confirm = await postJson(`${baseUrl}/v1/me/mfa/totp/confirm`, { code: totpCode(key, confirmStep) }, bearer);
    expect(confirm.status === 200, "POST /v1/me/mfa/totp/confirm", confirm);

    const second = await postJson(`${baseUrl}/v1/auth/login`, user);
    const challenge = second.json as { status?: string; mfaToken?: string };
    expect(second.status === 200 && challenge.status === "mfa_required" && !!challenge.mfaToken, "POST /v1/auth/login (after 2SV)", second);
    // The confirmation burned confirmStep: the next code must be for a later step, and T or T + 1.
    const step = Math.max(confirmStep + 1, stepAt(Date.now()));
    const verify = await postJson(`${baseUrl}/v1/auth/mfa/verify`, {
      mfaToken: challenge.mfaToken, method: "totp", code: totpCode(key, step), rememberDevice: true, deviceName: `bench device ${i}`,
    });
    const verified = verify.json as { status?: string; deviceToken?: string };
    expect(verify.status === 200 && verified.status === "authenticated" && !!verified.deviceToken, "POST /v1/auth/mfa/verify (rememberDevice)", verify);
    return { ...user, deviceToken: verified.deviceToken! };
  });
}

/** Fails unless every device token verifies with the run's device key and the service's device-token profile. */
export async function checkDeviceTokens(keys: BenchKeys, issuer: string, tokens: readonly string[]): Promise<void> {
  const ring = await createKeyRing(keys.signingKeys, { retentionSeconds: { access: 0, device: 0 } }, systemClock);
  for (const token of tokens) {
    const payload = await ring.verify("device", token, { typ: DEVICE_TOKEN_TYP, issuer, audience: DEVICE_TOKEN_AUDIENCE });
    if (!payload || typeof payload.did !== "string") throw new Error("a device token does not verify with the bench's device key");
  }
}
