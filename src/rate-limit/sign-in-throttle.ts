// Password-guessing defences (checklist RL-02..RL-04, RL-07, UE-03, AV-08), shared by
// sign-in and every route that re-checks a password (accounts.reauthenticate):
// - per client address: at most LOGIN_RATE_PER_IP requests a minute;
// - per account *and* address: after LOGIN_FREE_FAILURES failures from that
//   address, each further one imposes a wait on that address alone, doubling
//   from 30 s up to LOGIN_MAX_WAIT_SECONDS (NIST SP 800-63B-4 §3.2.2 MAY);
// - per account, from every address: after LOGIN_ACCOUNT_FREE_FAILURES failures
//   in 24 h, an account-wide wait doubling the same way. A sign-in carrying a
//   valid trusted-device token is not held by it: failures from elsewhere cannot
//   keep the owner's own device out (Auth CS: lockout must not become a DoS).
// The hard cap (LOGIN_FAILURE_CAP consecutive failures disable the password) is
// durable account state, kept by the accounts feature, not here.
// A success clears the failures of that address and the account-wide count
// (NIST: SHOULD reset on success).
// Keys never hold an email in clear: the account is a SHA-256 of its normalised
// form, so a dump of Redis or rate_limit_counters lists no addresses.
import { createHash } from "node:crypto";
import { AppError } from "../errors.ts";
import type { Clock } from "../lib/clock.ts";
import type { CounterStore } from "./counter-store.ts";

export interface SignInThrottleSettings {
  perAddressPerMinute: number;
  freeFailures: number;
  accountFreeFailures: number;
  maxWaitSeconds: number;
}

const FIRST_WAIT_SECONDS = 30;
const FAILURE_MEMORY_MS = 24 * 3600_000;

export function waitAfterFailures(failures: number, free: number, maxWaitSeconds: number): number {
  const beyond = failures - free;
  if (beyond <= 0) return 0;
  return Math.min(FIRST_WAIT_SECONDS * 2 ** Math.min(beyond - 1, 20), maxWaitSeconds);
}

/** The counter-key form of an account: a digest of the normalised email, never the email. */
export function accountKey(normalizedEmail: string): string {
  return createHash("sha256").update(`signin-account:${normalizedEmail}`).digest("base64url");
}

function secondsUntil(date: Date, now: Date) {
  return Math.max(1, Math.ceil((date.getTime() - now.getTime()) / 1000));
}

/** Whether this attempt is vouched for by a trusted device of the account. */
export interface Admission {
  trustedDevice: boolean;
}

export function createSignInThrottle(store: CounterStore, settings: SignInThrottleSettings, clock: Clock) {
  const keys = {
    address: (ip: string) => `signin:ip:${ip}`,
    failures: (account: string, ip: string) => `signin:fail:${accountKey(account)}:${ip}`,
    wait: (account: string, ip: string) => `signin:wait:${accountKey(account)}:${ip}`,
    accountFailures: (account: string) => `signin:acct-fail:${accountKey(account)}`,
    accountWait: (account: string) => `signin:acct-wait:${accountKey(account)}`,
  };

  const refuse = (until: Date, now: Date, logReason: string): never => {
    throw new AppError("RATE_LIMITED", { retryAfterSeconds: secondsUntil(until, now), logReason });
  };

  return {
    /** Counts this request against the client address; refuses beyond the limit. */
    async admitAddress(ip: string) {
      const now = clock.now();
      const state = await store.hit(keys.address(ip), 60_000, now);
      if (state.count > settings.perAddressPerMinute) refuse(state.resetAt, now, "address_limit");
    },

    /**
     * Refuses while this address, or (without a trusted device) the account, is
     * inside a wait, before any password work is spent. Says whether failures
     * are on record, so a success clears them only then.
     */
    async admitAccount(account: string, ip: string, admission: Admission = { trustedDevice: false }): Promise<{ hasFailures: boolean }> {
      const now = clock.now();
      const [wait, accountWait, failures, accountFailures] = await store.peekMany(
        [keys.wait(account, ip), keys.accountWait(account), keys.failures(account, ip), keys.accountFailures(account)], now);
      if (wait) refuse(wait.resetAt, now, "account_address_wait");
      if (accountWait && !admission.trustedDevice) refuse(accountWait.resetAt, now, "account_wait");
      return { hasFailures: failures !== null || accountFailures !== null };
    },

    /** Counts a wrong password on both counters and starts whichever wait is due. */
    async recordFailure(account: string, ip: string) {
      const now = clock.now();
      const [local, global] = await Promise.all([
        store.hit(keys.failures(account, ip), FAILURE_MEMORY_MS, now),
        store.hit(keys.accountFailures(account), FAILURE_MEMORY_MS, now),
      ]);
      const waitSeconds = waitAfterFailures(local.count, settings.freeFailures, settings.maxWaitSeconds);
      const accountWaitSeconds = waitAfterFailures(global.count, settings.accountFreeFailures, settings.maxWaitSeconds);
      if (waitSeconds > 0) await store.holdUntil(keys.wait(account, ip), new Date(now.getTime() + waitSeconds * 1000), now);
      if (accountWaitSeconds > 0) await store.holdUntil(keys.accountWait(account), new Date(now.getTime() + accountWaitSeconds * 1000), now);
      return { failures: local.count, accountFailures: global.count, waitSeconds: Math.max(waitSeconds, accountWaitSeconds) };
    },

    /** A support unlock: the account-wide count and wait go (per-address waits run out by themselves). */
    async clearAccount(account: string) {
      await Promise.all([store.clear(keys.accountFailures(account)), store.clear(keys.accountWait(account))]);
    },

    async recordSuccess(account: string, ip: string, admitted: { hasFailures: boolean } = { hasFailures: true }) {
      if (admitted.hasFailures) await Promise.all([store.clear(keys.failures(account, ip)), store.clear(keys.accountFailures(account))]);
    },
  };
}

export type SignInThrottle = ReturnType<typeof createSignInThrottle>;
