// A clock tests can set and advance, so rules that depend on time (token
// expiry, TOTP steps, waits) are tested without sleeping.
import type { Clock } from "../../src/lib/clock.ts";

export function manualClock(start = new Date()): Clock & { set(d: Date): void; advance(ms: number): void } {
  let current = start.getTime();
  return {
    now: () => new Date(current),
    set: (d) => { current = d.getTime(); },
    advance: (ms) => { current += ms; },
  };
}
