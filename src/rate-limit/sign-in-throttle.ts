// Password-guessing defences (checklist RL-02..RL-04, RL-07, UE-03):
// - per client address: at most LOGIN_RATE_PER_IP sign-in requests a minute;
// - per account (the normalised email, existing or not): after LOGIN_FREE_FAILURES
//   consecutive failures, each further failure imposes a wait that doubles from
//   30 s up to LOGIN_MAX_WAIT_SECONDS (NIST SP 800-63B-4 §3.2.2 allows such delays).
// A success clears the account's failures (NIST: SHOULD reset on success).
// Anti-lockout: an attacker who knows a victim's email can hold the victim's
// sign-in at most LOGIN_MAX_WAIT_SECONDS at a time and only by continuing to fail,
// which the per-address limit slows; the wait never becomes a permanent lock.
import { AppError } from "../errors.ts";
import type { Clock } from "../lib/clock.ts";
import type { CounterStore } from "./counter-store.ts";

export interface SignInThrottleSettings {
  perAddressPerMinute: number;
  freeFailures: number;
  maxWaitSeconds: number;
}

const FIRST_WAIT_SECONDS = 30;
const FAILURE_MEMORY_MS = 24 * 3600_000;

export function waitAfterFailures(failures: number, settings: SignInThrottleSettings): number {
  const beyond = failures - settings.freeFailures;
  if (beyond <= 0) return 0;
  return Math.min(FIRST_WAIT_SECONDS * 2 ** Math.min(beyond - 1, 20), settings.maxWaitSeconds);
}

function secondsUntil(date: Date, now: Date) {
  return Math.max(1, Math.ceil((date.getTime() - now.getTime()) / 1000));
}

export function createSignInThrottle(store: CounterStore, settings: SignInThrottleSettings, clock: Clock) {
  const keys = {
    address: (ip: string) => `signin:ip:${ip}`,
    failures: (account: string) => `signin:fail:${account}`,
    wait: (account: string) => `signin:wait:${account}`,
  };

  return {
    /** Counts this request against the client address; refuses beyond the limit. */
    async admitAddress(ip: string) {
      const now = clock.now();
      const state = await store.hit(keys.address(ip), 60_000, now);
      if (state.count > settings.perAddressPerMinute) {
        throw new AppError("RATE_LIMITED", { retryAfterSeconds: secondsUntil(state.resetAt, now), logReason: "address_limit" });
      }
    },

    /**
     * Refuses while the account is inside a wait, before any password work is
     * spent. Says whether failures are on record, so a success clears them only then.
     */
    async admitAccount(account: string): Promise<{ hasFailures: boolean }> {
      const now = clock.now();
      const [wait, failures] = await store.peekMany([keys.wait(account), keys.failures(account)], now);
      if (wait) throw new AppError("RATE_LIMITED", { retryAfterSeconds: secondsUntil(wait.resetAt, now), logReason: "account_wait" });
      return { hasFailures: failures !== null };
    },

    async recordFailure(account: string) {
      const now = clock.now();
      const { count } = await store.hit(keys.failures(account), FAILURE_MEMORY_MS, now);
      const waitSeconds = waitAfterFailures(count, settings);
      if (waitSeconds > 0) await store.holdUntil(keys.wait(account), new Date(now.getTime() + waitSeconds * 1000), now);
      return { failures: count, waitSeconds };
    },

    async recordSuccess(account: string, admission: { hasFailures: boolean } = { hasFailures: true }) {
      if (admission.hasFailures) await store.clear(keys.failures(account));
    },
  };
}

export type SignInThrottle = ReturnType<typeof createSignInThrottle>;
