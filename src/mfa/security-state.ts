// The two-step verification state shown in GET /v1/me and to support tools.
// Methods and "2SV on" come from the factor registry (lib/second-factors.ts).
import type { Static } from "typebox";
import type { Clock } from "../lib/clock.ts";
import { hasSecondFactor, methodsOf, SECOND_FACTORS, type FactorState } from "../lib/second-factors.ts";
import type { RequirementSource } from "../companies/schemas.ts";
import type { DeviceService } from "../devices/service.ts";
import type { MfaRepository } from "./repository.ts";
import type { PushAuthenticatorSchema, SecurityStateSchema } from "./schemas.ts";
import { clockDriftOf } from "./clock-drift.ts";

export type SecurityState = Static<typeof SecurityStateSchema>;
export type PushAuthenticatorView = Static<typeof PushAuthenticatorSchema>;

export function createSecurityStateReader(deps: {
  mfa: MfaRepository;
  devices: Pick<DeviceService, "countActive">;
  clock: Clock;
  /** Which company policies mandate 2SV for a user (company feature); none by default. */
  requirementSources?: (userId: string) => Promise<RequirementSource[]>;
  /** The person's paired authenticator apps (push feature); none by default. */
  pairedApps?: (userId: string) => Promise<PushAuthenticatorView[]>;
}) {
  return async function securityState(userId: string): Promise<SecurityState> {
    const now = deps.clock.now();
    const [{ factor, recoveryCodesRemaining }, trustedDevices, requiredBy, apps] = await Promise.all([
      deps.mfa.factorSummary(userId),
      deps.devices.countActive(userId),
      deps.requirementSources ? deps.requirementSources(userId) : Promise.resolve([]),
      deps.pairedApps ? deps.pairedApps(userId) : Promise.resolve([]),
    ]);
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
  };
}

export type SecurityStateReader = ReturnType<typeof createSecurityStateReader>;
