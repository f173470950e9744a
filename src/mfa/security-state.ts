// The two-step verification state shown in GET /v1/me and to support tools.
// Methods and "2SV on" come from the factor registry (lib/second-factors.ts).
// Read in one round trip (MfaRepository.securitySnapshot), with the person's
// profile: GET /v1/me is on every page load of every frontend.
import type { Static } from "typebox";
import type { Clock } from "../lib/clock.ts";
import { hasSecondFactor, methodsOf, SECOND_FACTORS, type FactorState } from "../lib/second-factors.ts";
import type { RequirementSource } from "../companies/schemas.ts";
import type { MfaRepository, PushAppRow, SecuritySnapshotRow } from "./repository.ts";
import type { PushAuthenticatorSchema, SecurityStateSchema } from "./schemas.ts";
import { clockDriftOf } from "./clock-drift.ts";

export type SecurityState = Static<typeof SecurityStateSchema>;
export type PushAuthenticatorView = Static<typeof PushAuthenticatorSchema>;

/** One entry per company and way it reaches the person (a member twice over is one). */
function requirementSourcesOf(mandates: SecuritySnapshotRow["mandates"]): RequirementSource[] {
  const seen = new Set<string>();
  return mandates.filter((m) => {
    const key = `${m.companyId}:${m.via}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
}

export function createSecurityStateReader(deps: {
  mfa: Pick<MfaRepository, "securitySnapshot">;
  clock: Clock;
  /** How a paired app is shown (push feature). */
  toAppView: (row: PushAppRow) => PushAuthenticatorView;
}) {
  function stateOf(snapshot: SecuritySnapshotRow, now: Date): SecurityState {
    const { factor, recoveryCodesRemaining, trustedDevices } = snapshot;
    const apps = snapshot.pushApps.map(deps.toAppView);
    const requiredBy = requirementSourcesOf(snapshot.mandates);
    const pushApps = apps.filter((a) => a.status === "active");
    const state: FactorState = {
      totpEnrolled: Boolean(factor), totpUsable: Boolean(factor && !factor.disabledAt), recoveryCodes: recoveryCodesRemaining, pushApps: pushApps.length,
    };
    const twoStepEnabled = hasSecondFactor(state);
    const clockDrift = factor ? clockDriftOf(factor.driftStreak) : undefined;
    return {
      twoStepEnabled,
      methods: methodsOf(state),
      totp: factor ? { enrolledAt: (factor.confirmedAt ?? now).toISOString(), disabledAfterFailures: Boolean(factor.disabledAt) } : null,
      recoveryCodesRemaining,
      trustedDevices,
      required: twoStepEnabled || requiredBy.length > 0,
      requiredBy,
      bankIntegrationAvailable: SECOND_FACTORS.totp.usable(state),
      ...(apps.length > 0 ? { pushAuthenticators: apps } : {}),
      ...(clockDrift ? { clockDrift } : {}),
    };
  }

  /** The person's profile and security state; null when there is no such person. */
  async function profile(userId: string) {
    const now = deps.clock.now();
    const snapshot = await deps.mfa.securitySnapshot(userId, now);
    return snapshot ? { user: snapshot.user, security: stateOf(snapshot, now) } : null;
  }

  return {
    profile,
    /** The security state alone (support tools); null when there is no such person. */
    securityState: async (userId: string): Promise<SecurityState | null> => (await profile(userId))?.security ?? null,
  };
}

export type SecurityStateReader = ReturnType<typeof createSecurityStateReader>;
