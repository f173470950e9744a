// Mandatory two-step verification (design/PRODUCT.md, the help article):
// a person requires 2SV when any company they are a member of mandates it, or
// any client company whose assignments they work on for an accounting office
// does. An office's own mandate reaches its staff, never its clients' people.
// The rules apply on every path (checklist CP-02, CP-06):
// - sign-in: no factor -> enrollment only (or, within an optional grace
//   deadline, a session that says how many days remain);
// - refresh: a session without a second factor is refused once a mandate
//   reaches its user (refuse-at-refresh; the person signs in again and enrolls);
// - trusted devices issued before the mandate reached the person no longer skip;
// - turning 2SV off is refused while a mandate applies.
import { AppError } from "../errors.ts";
import { satisfiesMandate } from "../lib/amr.ts";
import type { Clock } from "../lib/clock.ts";
import type { RequirementSource } from "./schemas.ts";
import type { CompanyRepository, MandateSource } from "./repository.ts";

const DAY_MS = 86_400_000;

export interface DeviceTrust {
  allowed: boolean;
  /** Devices trusted before this no longer skip the second step. */
  validSince?: Date;
}

export interface Grace {
  deadline: Date;
  daysRemaining: number;
}

export function toRequirementSources(sources: MandateSource[]): RequirementSource[] {
  const seen = new Set<string>();
  return sources
    .map((s) => ({ companyId: s.company.id, companyName: s.company.name, via: s.via }))
    .filter((s) => {
      const key = `${s.companyId}:${s.via}`;
      return seen.has(key) ? false : (seen.add(key), true);
    });
}

export function createTwoStepPolicy(companies: CompanyRepository, clock: Clock) {
  /** The grace left, or null when enrollment is due now: the earliest deadline wins; a mandate without one has none. */
  function graceOf(sources: MandateSource[]): Grace | null {
    if (sources.some((s) => !s.company.enrollmentDeadline)) return null;
    const deadline = new Date(Math.min(...sources.map((s) => s.company.enrollmentDeadline!.getTime())));
    const left = deadline.getTime() - clock.now().getTime();
    return left > 0 ? { deadline, daysRemaining: Math.ceil(left / DAY_MS) } : null;
  }

  async function requirement(userId: string) {
    const sources = await companies.mandateSources(userId);
    return { sources, requiredBy: toRequirementSources(sources), grace: sources.length ? graceOf(sources) : null };
  }

  return {
    requirement,

    /**
     * Whether a trusted device may skip the second step for this person, and the
     * earliest issue date still honoured: not before a mandate reached them, and
     * not older than the strictest "remember this device" period of any company
     * that reaches them (checklist DT-08; 0 turns trust off).
     */
    async deviceTrust(userId: string): Promise<DeviceTrust> {
      const [sources, days] = await Promise.all([companies.mandateSources(userId), companies.deviceTrustLimit(userId)]);
      if (days === 0) return { allowed: false };
      const since = [...sources.map((s) => s.appliesSince.getTime()), ...(days !== null ? [clock.now().getTime() - days * DAY_MS] : [])];
      return { allowed: true, validSince: since.length ? new Date(Math.max(...since)) : undefined };
    },

    async assertMayTurnOff(userId: string) {
      const { requiredBy } = await requirement(userId);
      if (requiredBy.length > 0) {
        throw new AppError("TWO_STEP_REQUIRED_BY_POLICY", { detail: `Required by: ${requiredBy.map((r) => r.companyName).join(", ")}.` });
      }
    },

    /** Whether a session may be refreshed: one without a second factor may not outlive a mandate. */
    async sessionMayContinue(session: { userId: string; amr: string[] }): Promise<boolean> {
      if (satisfiesMandate(session.amr)) return true;
      const { sources, grace } = await requirement(session.userId);
      return sources.length === 0 || grace !== null;
    },
  };
}

export type TwoStepPolicyRules = ReturnType<typeof createTwoStepPolicy>;
