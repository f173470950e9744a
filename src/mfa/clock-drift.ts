// A phone whose clock drifts shows codes of the step before or after the
// server's. RFC 6238 §6 lets the verifier accept one step either side and
// "resynchronize"; we do not move the window (that would widen it for an
// attacker too), we tell the person to fix the clock before codes stop working.
import { timeStepAt } from "../lib/totp.ts";

/** Accepted codes in a row from the same neighbouring step before the hint shows. */
export const DRIFT_HINT_AFTER = 3;

export interface ClockDrift {
  direction: "behind" | "ahead";
  acceptedInARow: number;
}

/** The new streak after a code of `step` was accepted at `at`: same side counts on, step 0 or the other side starts over. */
export function nextDriftStreak(previous: number, step: number, at: Date): number {
  const offset = Math.sign(step - timeStepAt(at));
  if (offset === 0) return 0;
  return Math.sign(previous) === offset ? previous + offset : offset;
}

export function clockDriftOf(streak: number): ClockDrift | undefined {
  if (Math.abs(streak) < DRIFT_HINT_AFTER) return undefined;
  return { direction: streak < 0 ? "behind" : "ahead", acceptedInARow: Math.abs(streak) };
}
