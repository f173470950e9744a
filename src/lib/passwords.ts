// Password hashing (the policy is in password-policy.ts). Framework-free: the service layer passes
// in the parameters read from config, so tests and production build the same hasher.
import { randomBytes } from "node:crypto";
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

/**
 * Thrown for queued work whose caller has gone (the client hung up before its
 * turn): the hash is never computed, and its place goes to someone still waiting.
 */
export class HasherAbandonedError extends Error {
  readonly code = "HASHER_ABANDONED";
  constructor() {
    super("The caller went away before its password hash started");
    this.name = "HasherAbandonedError";
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
  /**
   * The current caller's signal (the HTTP request's: aborted when its client
   * hangs up). Queued work whose caller went away leaves the queue, so a client
   * that gave up (a timeout, a closed tab, a load generator that stopped) never
   * holds a place that a waiting one needs.
   */
  callerSignal?: () => AbortSignal | undefined;
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
  const queue = createFifoLimiter(options.maxConcurrent ?? defaultHashConcurrency(), options.maxQueue ?? DEFAULT_HASH_QUEUE);
  const limit = <T>(task: () => Promise<T>) => queue(task, options.callerSignal?.());
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
// compares equal; the policy (password-policy.ts) checks the same form.
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

/** How many hashes may wait for a free slot (ARGON2_MAX_QUEUE). */
export const DEFAULT_HASH_QUEUE = 64;

type Limiter = <T>(task: () => Promise<T>, signal?: AbortSignal) => Promise<T>;

// A FIFO semaphore: at most maxConcurrent tasks run, at most maxQueue wait, the rest are refused
// at once so excess load is shed instead of queued without bound (checklist AV-01). A waiter
// whose signal aborts leaves the queue: the queue holds only work someone still waits for.
export function createFifoLimiter(maxConcurrent: number, maxQueue: number): Limiter {
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) throw new RangeError("maxConcurrent must be an integer ≥ 1");
  if (!Number.isInteger(maxQueue) || maxQueue < 0) throw new RangeError("maxQueue must be an integer ≥ 0");
  let running = 0;
  const waiting: Array<() => void> = [];

  function acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(new HasherAbandonedError());
    if (running < maxConcurrent) {
      running++;
      return Promise.resolve();
    }
    if (waiting.length >= maxQueue) return Promise.reject(new HasherBusyError());
    return new Promise((resolve, reject) => {
      const turn = () => {
        signal?.removeEventListener("abort", leave);
        resolve();
      };
      function leave() {
        const index = waiting.indexOf(turn);
        if (index >= 0) waiting.splice(index, 1);
        reject(new HasherAbandonedError());
      }
      signal?.addEventListener("abort", leave, { once: true });
      waiting.push(turn);
    });
  }

  function release(): void {
    const next = waiting.shift();
    if (next) next(); // the slot passes straight to the next waiter
    else running--;
  }

  return async (task, signal) => {
    await acquire(signal);
    try {
      return await task();
    } finally {
      release();
    }
  };
}
