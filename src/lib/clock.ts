// Time is injected everywhere a rule depends on it (token expiry, TOTP steps,
// lockout waits), so tests can move it without sleeping.
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
