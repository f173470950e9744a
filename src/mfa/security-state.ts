// The two-step verification state shown in GET /v1/me and to support tools.
import type { Static } from "typebox";
import type { Prisma } from "../db/database.ts";
import type { Clock } from "../lib/clock.ts";
import type { RequirementSourceSchema } from "../sign-in/schemas.ts";
import type { SecurityStateSchema } from "./schemas.ts";

export type RequirementSource = Static<typeof RequirementSourceSchema>;
export type SecurityState = Static<typeof SecurityStateSchema>;

export function createSecurityStateReader(deps: {
  prisma: Prisma;
  clock: Clock;
  /** Which company policies mandate 2SV for a user (company feature); none by default. */
  requirementSources?: (userId: string) => Promise<RequirementSource[]>;
}) {
  return async function securityState(userId: string): Promise<SecurityState> {
    const now = deps.clock.now();
    const [factor, recoveryCodesRemaining, trustedDevices, requiredBy] = await Promise.all([
      deps.prisma.totpFactor.findUnique({ where: { userId_status: { userId, status: "active" } }, select: { confirmedAt: true, disabledAt: true } }),
      deps.prisma.recoveryCode.count({ where: { userId, usedAt: null } }),
      deps.prisma.trustedDevice.count({ where: { userId, revokedAt: null, expiresAt: { gt: now } } }),
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
