// The wake-up seam of the long polls: an answer on instance B wakes the sign-in
// page waiting on instance A. The transport is PostgreSQL LISTEN/NOTIFY on a
// dedicated connection (PGlite's own listen when embedded) or Redis pub/sub when
// REDIS_URL is set. A message only says "look again": every waiter re-reads its
// row, and re-checks every 2 s anyway, so a lost message costs at most 2 s
// (PUSH-ANCHORS §4: NOTIFY is delivered at commit and never replayed).
import type { FastifyBaseLogger } from "fastify";
import type { Redis } from "ioredis";
import type { Notifications } from "../db/database.ts";

export const RECHECK_MS = 2_000;
const CHANNEL = "push_challenge";

export interface WakeupTransport {
  subscribe(onMessage: (key: string) => void, onError: (error: unknown) => void): Promise<() => Promise<void>>;
  publish(key: string): Promise<void>;
}

export function databaseTransport(notifications: Notifications): WakeupTransport {
  return {
    subscribe: (onMessage, onError) => notifications.listen(CHANNEL, onMessage, onError),
    publish: (key) => notifications.notify(CHANNEL, key),
  };
}

export function redisTransport(publisher: Redis): WakeupTransport {
  return {
    async subscribe(onMessage, onError) {
      const subscriber = publisher.duplicate();
      subscriber.on("error", onError);
      subscriber.on("message", (channel: string, message: string) => { if (channel === CHANNEL) onMessage(message); });
      await subscriber.subscribe(CHANNEL);
      return async () => { subscriber.disconnect(); };
    },
    publish: async (key) => { await publisher.publish(CHANNEL, key); },
  };
}

export function createWakeup(transport: WakeupTransport, log: FastifyBaseLogger) {
  const waiters = new Map<string, Set<() => void>>();
  let subscription: Promise<(() => Promise<void>) | null> | null = null;
  let closed = false;

  function wakeLocal(key: string) {
    for (const wake of waiters.get(key) ?? []) wake();
  }

  /** Listening starts with the first long poll, before its first read, so no answer can slip in between. */
  function listening() {
    subscription ??= transport.subscribe(wakeLocal, (error) => log.warn({ err: error }, "push wake-up listener failed; re-checking every 2 s"))
      .catch((error: unknown) => {
        log.warn({ err: error }, "push wake-up listener could not start; re-checking every 2 s");
        subscription = null;
        return null;
      });
    return subscription;
  }

  /** Resolves when any key is signalled, after `ms`, or when the app closes. */
  function wait(keys: string[], ms: number): Promise<void> {
    if (closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        for (const key of keys) waiters.get(key)?.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      for (const key of keys) {
        const set = waiters.get(key) ?? new Set();
        set.add(done);
        waiters.set(key, set);
      }
    });
  }

  return {
    listening,
    wait,
    /** Wakes the waiters of `key` here at once and, through the transport, on every other instance. Never throws. */
    async signal(key: string) {
      wakeLocal(key);
      await transport.publish(key).catch((error: unknown) => log.warn({ err: error, key }, "push wake-up not published"));
    },
    get closed() { return closed; },
    /** Shutdown: every long poll answers now (the client polls again elsewhere). */
    async close() {
      closed = true;
      for (const key of [...waiters.keys()]) wakeLocal(key);
      const unsubscribe = await subscription;
      await unsubscribe?.();
    },
  };
}

export type Wakeup = ReturnType<typeof createWakeup>;

/** Polls `read` until it answers, the deadline passes or the app closes; woken early by `keys`. */
export async function longPoll<T>(wakeup: Wakeup, keys: string[], waitMs: number, read: () => Promise<T | null>): Promise<T | null> {
  await wakeup.listening();
  const deadline = Date.now() + waitMs;
  for (;;) {
    const found = await read();
    const left = deadline - Date.now();
    if (found !== null || left <= 0 || wakeup.closed) return found;
    await wakeup.wait(keys, Math.min(left, RECHECK_MS));
  }
}
