// One place every security event goes through: the audit log, the metrics, the
// operational log, and, for events a person should hear about, the webhook
// outbox (ASVS 6.3.7; checklist LA-07). The audit row and the outbox row are
// recorded together and stored together (audit/service.ts): in the unit of
// work that made the change, or with the response.
import type { FastifyBaseLogger } from "fastify";
import type { Clock } from "../lib/clock.ts";
import { newEventId, type OutboxRow } from "./repository.ts";
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

/** What a receiver gets as the body, the same bytes on every attempt (outbox/webhook.ts). */
export interface Notification {
  id: string;
  /** A stable event type, e.g. mfa_enrolled. */
  type: string;
  userId: string;
  occurredAt: string;
  /** Non-secret context: client address, user agent, device name, company. */
  details: Record<string, unknown>;
}

function outboxRow(notification: Notification): OutboxRow {
  const { id, type, userId, occurredAt, details } = notification;
  return { id, type, body: JSON.stringify({ id, type, userId, occurredAt, details }) };
}

export function createSecurityEvents(deps: {
  audit: AuditLog;
  /** Whether notified events get an outbox row (a webhook is configured). */
  notifications: boolean;
  context: RequestContextReader;
  countEvent: (type: string) => void;
  log: FastifyBaseLogger;
  clock: Clock;
}): EmitEvent {
  return async function emit(type, userId, details = {}, companyId = null) {
    deps.countEvent(type);
    let outbox: OutboxRow | undefined;
    if (deps.notifications && userId && NOTIFIED_EVENTS.has(type)) {
      const ctx = deps.context.current();
      outbox = outboxRow({
        id: newEventId(),
        type,
        userId,
        occurredAt: deps.clock.now().toISOString(),
        details: { ...details, clientAddress: ctx.clientAddress, userAgent: ctx.userAgent, ...(companyId ? { companyId } : {}) },
      });
    }
    await deps.audit.record({ type, subjectUserId: userId, companyId, details }, outbox);
  };
}
