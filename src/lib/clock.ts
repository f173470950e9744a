// Time is injected everywhere a rule depends on it (token expiry, TOTP steps,
// lockout waits), so tests can move it without sleeping.
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock tests can set and advance. */
export function manualClock(start = new Date()): Clock & { set(d: Date): void; advance(ms: number): void } {
  let current = start.getTime();
  return {
    now: () => new Date(current),
    set: (d) => { current = d.getTime(); },
    advance: (ms) => { current += ms; },
  };
}
