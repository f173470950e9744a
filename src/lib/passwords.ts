// Password hashing and the password policy. Framework-free: the service layer passes in the
// parameters and the policy read from config, so tests and production build the same hasher.
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { hash as argon2Hash, parseOptions, verify as argon2Verify, type Algorithm, type Version } from "@node-rs/argon2";

export interface Argon2Params {
  memoryCost: number; // KiB
  timeCost: number;
  parallelism: number;
}

// OWASP Password Storage Cheat Sheet, argon2id: "19 MiB of memory, an iteration count of 2, and
// 1 degree of parallelism" (ASVS 5.0 11.4.2, checklist PW-12).
export const OWASP_MINIMUM: Argon2Params = { memoryCost: 19456, timeCost: 2, parallelism: 1 };

// The package declares these as ambient const enums, which verbatimModuleSyntax forbids reading
// at runtime; the annotations make tsc check that the numbers still match the declarations.
const ARGON2ID: Algorithm.Argon2id = 2;
const VERSION_0X13: Version.V0x13 = 1;
// NIST SP 800-63B-4 §3.1.1.2 asks for a salt of at least 32 bits; 16 bytes is the RFC 9106 §3.1 choice.
const SALT_BYTES = 16;

/** Thrown when more hashes are waiting than the queue allows; the HTTP layer answers 503 + Retry-After. */
export class HasherBusyError extends Error {
  readonly code = "HASHER_BUSY";
  constructor() {
    super("Too many password hashes in progress; retry shortly");
    this.name = "HasherBusyError";
  }
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
  needsRehash(hash: string): boolean;
  verifyDummy(password: string): Promise<void>;
}

export interface HasherOptions {
  maxConcurrent?: number;
  maxQueue?: number;
}

/**
 * One hash per core by default: argon2 with p=1 keeps one core busy per hash,
 * and libuv's 4-thread pool keeps threads free for JWT signing (jose uses it too).
 */
export function defaultHashConcurrency(): number {
  return availableParallelism();
}

export function createPasswordHasher(params: Argon2Params, options: HasherOptions = {}): PasswordHasher {
  // Each running hash holds memoryCost KiB, so concurrency bounds memory (ASVS 5.0 15.2.2, checklist AV-01).
  const limit = createFifoLimiter(options.maxConcurrent ?? defaultHashConcurrency(), options.maxQueue ?? 64);
  let dummyHash: Promise<string> | undefined;

  const hash = (password: string) => limit(() => hashNormalized(normalize(password), params));
  const verify = (stored: string, password: string) => limit(() => verifyNormalized(stored, normalize(password)));

  // Ory Kratos' lesson: an unknown account must cost one verify, or timing reveals which emails exist.
  function dummy(): Promise<string> {
    dummyHash ??= hash(randomBytes(32).toString("base64url")).catch((error: unknown) => {
      dummyHash = undefined;
      throw error;
    });
    return dummyHash;
  }

  return {
    hash,
    verify,
    needsRehash: (stored) => isWeakerThan(stored, params),
    verifyDummy: async (password) => {
      await verify(await dummy(), password);
    },
  };
}

// NIST SP 800-63B-4 §3.1.1.2: verifiers SHOULD apply NFC so one password typed on two keyboards
// compares equal; the same form is fed to the hash and to the policy.
function normalize(password: string): string {
  return password.normalize("NFC");
}

function hashNormalized(password: string, params: Argon2Params): Promise<string> {
  return argon2Hash(password, { ...params, algorithm: ARGON2ID, version: VERSION_0X13, salt: randomBytes(SALT_BYTES) });
}

async function verifyNormalized(stored: string, password: string): Promise<boolean> {
  try {
    return await argon2Verify(stored, password);
  } catch {
    // A malformed or foreign hash is a failed sign-in, not a 500 (ASVS 5.0 16.5.x).
    return false;
  }
}

// Rehash at sign-in when the configured cost has risen (ASVS 5.0 11.4.2, checklist PW-12);
// never downgrade a hash that is already stronger.
function isWeakerThan(stored: string, params: Argon2Params): boolean {
  try {
    const found = parseOptions(stored);
    return (
      found.algorithm !== ARGON2ID ||
      found.version !== VERSION_0X13 ||
      found.memoryCost < params.memoryCost ||
      found.timeCost < params.timeCost ||
      found.parallelism < params.parallelism
    );
  } catch {
    return true;
  }
}

type Limiter = <T>(task: () => Promise<T>) => Promise<T>;

// A FIFO semaphore: at most maxConcurrent tasks run, at most maxQueue wait, the rest are refused
// at once so excess load is shed instead of queued without bound (checklist AV-01).
function createFifoLimiter(maxConcurrent: number, maxQueue: number): Limiter {
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) throw new RangeError("maxConcurrent must be an integer ≥ 1");
  if (!Number.isInteger(maxQueue) || maxQueue < 0) throw new RangeError("maxQueue must be an integer ≥ 0");
  let running = 0;
  const waiting: Array<() => void> = [];

  function acquire(): Promise<void> {
    if (running < maxConcurrent) {
      running++;
      return Promise.resolve();
    }
    if (waiting.length >= maxQueue) return Promise.reject(new HasherBusyError());
    return new Promise((resolve) => waiting.push(resolve));
  }

  function release(): void {
    const next = waiting.shift();
    if (next) next(); // the slot passes straight to the next waiter
    else running--;
  }

  return async (task) => {
    await acquire();
    try {
      return await task();
    } finally {
      release();
    }
  };
}

export interface PasswordPolicy {
  minLength: number;
  maxLength: number;
}

export interface PasswordContext {
  email?: string;
  name?: string;
  serviceName?: string;
}

export type PasswordPolicyReason =
  | "password_too_short"
  | "password_too_long"
  | "password_blocklisted"
  | "password_contains_context";

export type PasswordPolicyResult = { ok: true } | { ok: false; reason: PasswordPolicyReason };

// NIST SP 800-63B-4 §3.1.1.2: length in code points after NFC, no composition rules, a blocklist
// compared against the whole password, and a reason when one is refused (ASVS 5.0 6.2.1, 6.2.4–6.2.5).
export function checkPasswordPolicy(password: string, policy: PasswordPolicy, context: PasswordContext): PasswordPolicyResult {
  const normalized = normalize(password);
  const length = [...normalized].length;
  if (length < policy.minLength) return { ok: false, reason: "password_too_short" };
  if (length > policy.maxLength) return { ok: false, reason: "password_too_long" };
  if (commonPasswords().has(normalized.toLowerCase())) return { ok: false, reason: "password_blocklisted" };
  if (repeatsContextWord(normalized, context)) return { ok: false, reason: "password_contains_context" };
  return { ok: true };
}

export function commonPasswordCount(): number {
  return commonPasswords().size;
}

// ASVS 5.0 6.2.11: refuse the user's own identifiers and the service's name. Only the whole
// password or a repetition of one word counts ("acmeacme"): NIST forbids composition rules,
// and a passphrase that merely mentions a word is still a strong passphrase.
function repeatsContextWord(password: string, context: PasswordContext): boolean {
  const candidate = squash(password);
  return contextWords(context).some((word) => isRepetitionOf(candidate, word));
}

function contextWords({ email, name, serviceName }: PasswordContext): string[] {
  const localPart = email?.split("@")[0];
  return [email, localPart, name, serviceName].map((word) => squash(word ?? "")).filter((word) => word.length > 0);
}

function squash(text: string): string {
  return normalize(text).toLowerCase().replace(/\s+/gu, "");
}

function isRepetitionOf(candidate: string, word: string): boolean {
  return candidate.length % word.length === 0 && word.repeat(candidate.length / word.length) === candidate;
}

// The zxcvbn-ts common list (~49k entries, lower-case) far exceeds ASVS 5.0 6.2.4's "top 3000".
// It is required on first use, not imported, because decompressing it costs ~30 ms at startup.
let commonPasswordSet: Set<string> | undefined;

function commonPasswords(): Set<string> {
  if (!commonPasswordSet) {
    const require = createRequire(import.meta.url);
    const { dictionary } = require("@zxcvbn-ts/language-common") as typeof import("@zxcvbn-ts/language-common");
    commonPasswordSet = new Set(dictionary["passwords-common"].map((entry) => entry.toLowerCase()));
  }
  return commonPasswordSet;
}
