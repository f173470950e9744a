// The two-step verification state shown in GET /v1/me and to support tools.
import type { Static } from "typebox";
import type { Clock } from "../lib/clock.ts";
import type { RequirementSource } from "../companies/schemas.ts";
import type { DeviceService } from "../devices/service.ts";
import type { MfaRepository } from "./repository.ts";
import type { SecurityStateSchema } from "./schemas.ts";

export type SecurityState = Static<typeof SecurityStateSchema>;

export function createSecurityStateReader(deps: {
  mfa: MfaRepository;
  devices: Pick<DeviceService, "countActive">;
  clock: Clock;
  /** Which company policies mandate 2SV for a user (company feature); none by default. */
  requirementSources?: (userId: string) => Promise<RequirementSource[]>;
}) {
  return async function securityState(userId: string): Promise<SecurityState> {
    const now = deps.clock.now();
    const [{ factor, recoveryCodesRemaining }, trustedDevices, requiredBy] = await Promise.all([
      deps.mfa.factorSummary(userId),
      deps.devices.countActive(userId),
      deps.requirementSources ? deps.requirementSources(userId) : Promise.resolve([]),
    ]);
    const totpUsable = Boolean(factor && !factor.disabledAt);
    const twoStepEnabled = Boolean(factor) || recoveryCodesRemaining > 0;
    return {
      twoStepEnabled,
      methods: [...(totpUsable ? (["totp"] as const) : []), ...(recoveryCodesRemaining > 0 ? (["recovery_code"] as const) : [])],
      totp: factor ? { enrolledAt: (factor.confirmedAt ?? now).toISOString(), disabledAfterFailures: Boolean(factor.disabledAt) } : null,
      recoveryCodesRemaining,
      trustedDevices,
      required: twoStepEnabled || requiredBy.length > 0,
      requiredBy,
      bankIntegrationAvailable: totpUsable,
    };
  };
}

export type SecurityStateReader = ReturnType<typeof createSecurityStateReader>;
