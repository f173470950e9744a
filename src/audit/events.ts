// One place every security event goes through: the audit log, the metrics, the
// operational log, and, for events a person should hear about, the notifier
// (ASVS 6.3.7; checklist LA-07).
import type { FastifyBaseLogger } from "fastify";
import type { Clock } from "../lib/clock.ts";
import type { Notifier } from "../notifications/notifier.ts";
import type { AuditLog } from "./service.ts";
import type { RequestContextReader } from "./request-context.ts";

export const NOTIFIED_EVENTS = new Set([
  "mfa_enrolled",
  "mfa_disabled",
  "mfa_reset_by_support",
  "recovery_code_used",
  "recovery_codes_replaced",
  "trusted_device_issued",
  "mfa_locked",
  "authn_login_lock",
  "policy_requires_enrollment",
  "password_changed",
  "external_identity_linked",
  "push_paired",
  "push_authenticator_removed",
  "push_blocked",
  // Someone gave the person a place (or a new role) in a company, or put them on a
  // client's assignments: that company's admins now see their events from here on.
  "membership_set",
  "assignment_added",
  // Issue 14 (checklist LA-06, LA-07): the password was right but the second step
  // failed, or a used code came again (reason totp_replay); the password was disabled by the failure cap or unlocked.
  "mfa_verify_fail",
  "authn_login_fail_max",
  "password_unlocked",
  "account_disabled",
]);

export type EmitEvent = (type: string, userId: string | null, details?: Record<string, unknown>, companyId?: string | null) => Promise<void>;

export function createSecurityEvents(deps: {
  audit: AuditLog;
  notifier: Notifier;
  context: RequestContextReader;
  countEvent: (type: string) => void;
  log: FastifyBaseLogger;
  clock: Clock;
}): EmitEvent {
  return async function emit(type, userId, details = {}, companyId = null) {
    deps.countEvent(type);
    await deps.audit.record({ type, subjectUserId: userId, companyId, details });
    if (userId && NOTIFIED_EVENTS.has(type)) {
      const ctx = deps.context.current();
      deps.notifier.notify({
        type,
        userId,
        occurredAt: deps.clock.now().toISOString(),
        details: { ...details, clientAddress: ctx.clientAddress, userAgent: ctx.userAgent, ...(companyId ? { companyId } : {}) },
      });
    }
  };
}
