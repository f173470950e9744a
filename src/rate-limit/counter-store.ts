// Fixed-window counters that every instance shares: PostgreSQL by default (this
// file is the only writer of rate_limit_counters), Redis when configured.
// Nothing that must hold across instances lives in process memory (checklist
// RL-03, RL-08). A store failure propagates, and the caller fails closed with 503.
import type { Redis } from "ioredis";
import type { Db } from "../db/database.ts";
import { AppError } from "../errors.ts";

export interface CounterState {
  count: number;
  resetAt: Date;
}

export interface CounterStore {
  /** Adds one to the counter of `key`, starting a new window of `windowMs` when the old one ended. */
  hit(key: string, windowMs: number, now: Date): Promise<CounterState>;
  /** The live counter of `key`, or null when none is running. */
  peek(key: string, now: Date): Promise<CounterState | null>;
  /** peek for several keys in one round trip. */
  peekMany(keys: string[], now: Date): Promise<(CounterState | null)[]>;
  /** Holds `key` at least until `until` (used for waits that outlast the counting window). */
  holdUntil(key: string, until: Date, now: Date): Promise<void>;
  clear(key: string): Promise<void>;
}

export function postgresCounterStore(prisma: Db): CounterStore {
  return {
    async hit(key, windowMs, now) {
      const resetAt = new Date(now.getTime() + windowMs);
      // One atomic upsert: concurrent hits from any instance all count (RL-03).
      const rows = await prisma.$queryRaw<{ count: number; reset_at: Date }[]>`
        INSERT INTO rate_limit_counters (key, count, reset_at) VALUES (${key}, 1, ${resetAt})
        ON CONFLICT (key) DO UPDATE SET
          count    = CASE WHEN rate_limit_counters.reset_at <= ${now} THEN 1 ELSE rate_limit_counters.count + 1 END,
          reset_at = CASE WHEN rate_limit_counters.reset_at <= ${now} THEN ${resetAt} ELSE rate_limit_counters.reset_at END
        RETURNING count, reset_at`;
      const row = rows[0]!;
      return { count: Number(row.count), resetAt: new Date(row.reset_at) };
    },
    async peek(key, now) {
      const row = await prisma.rateLimitCounter.findUnique({ where: { key } });
      return row && row.resetAt > now ? { count: row.count, resetAt: row.resetAt } : null;
    },
    async peekMany(keys, now) {
      const rows = await prisma.rateLimitCounter.findMany({ where: { key: { in: keys } } });
      return keys.map((key) => {
        const row = rows.find((r) => r.key === key);
        return row && row.resetAt > now ? { count: row.count, resetAt: row.resetAt } : null;
      });
    },
    async holdUntil(key, until) {
      await prisma.rateLimitCounter.upsert({
        where: { key },
        create: { key, count: 1, resetAt: until },
        update: { resetAt: until },
      });
    },
    async clear(key) {
      await prisma.rateLimitCounter.deleteMany({ where: { key } });
    },
  };
}

// INCR and the first PEXPIRE in one script, so a crash between them cannot leave
// a counter that never expires.
const HIT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}`;

export function redisCounterStore(redis: Redis, prefix = "rl:"): CounterStore {
  return {
    async hit(key, windowMs, now) {
      const [count, ttl] = (await redis.eval(HIT_SCRIPT, 1, prefix + key, String(windowMs))) as [number, number];
      return { count, resetAt: new Date(now.getTime() + ttl) };
    },
    async peek(key, now) {
      const [count, ttl] = await Promise.all([redis.get(prefix + key), redis.pttl(prefix + key)]);
      return count === null || ttl <= 0 ? null : { count: Number(count), resetAt: new Date(now.getTime() + ttl) };
    },
    async peekMany(keys, now) {
      const pipeline = redis.pipeline();
      for (const key of keys) pipeline.get(prefix + key).pttl(prefix + key);
      const replies = ((await pipeline.exec()) ?? []).map(([error, value]) => {
        if (error) throw error;
        return value;
      });
      return keys.map((_, i) => {
        const count = replies[2 * i] as string | null;
        const ttl = replies[2 * i + 1] as number;
        return count === null || ttl <= 0 ? null : { count: Number(count), resetAt: new Date(now.getTime() + ttl) };
      });
    },
    async holdUntil(key, until, now) {
      const ms = Math.max(1, until.getTime() - now.getTime());
      await redis.set(prefix + key, "1", "PX", ms);
    },
    async clear(key) {
      await redis.del(prefix + key);
    },
  };
}

/** Turns any store failure into a 503: limits never fail open (ASVS 16.5.3). */
export function failClosed(store: CounterStore, onError: (error: unknown) => void): CounterStore {
  const guard = <A extends unknown[], R>(fn: (...args: A) => Promise<R>) => async (...args: A): Promise<R> => {
    try {
      return await fn(...args);
    } catch (error) {
      onError(error);
      throw new AppError("UNAVAILABLE", { retryAfterSeconds: 5, logReason: "counter_store_failed" });
    }
  };
  return {
    hit: guard(store.hit), peek: guard(store.peek), peekMany: guard(store.peekMany), holdUntil: guard(store.holdUntil), clear: guard(store.clear),
  };
}

/**
 * True the first time `key` is claimed within the window, on every instance
 * sharing the store: a single-use guard for things that carry their own
 * expiry (an external assertion's replay key).
 */
export function oneTimeClaims(store: CounterStore, clock: { now(): Date }) {
  return async (key: string, windowMs: number): Promise<boolean> => (await store.hit(key, windowMs, clock.now())).count === 1;
}
