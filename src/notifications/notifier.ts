// Events a person should hear about are handed to a pluggable notifier. The
// built-in one posts signed webhooks (webhook.ts); without WEBHOOK_URL they are
// only logged.
export interface Notification {
  /** A stable event type, e.g. mfa_enrolled. */
  type: string;
  userId: string;
  occurredAt: string;
  /** Non-secret context: client address, user agent, device name, company. */
  details: Record<string, unknown>;
}

export interface Notifier {
  /** Must not throw: delivery failures are the notifier's to retry and log. */
  notify(notification: Notification): void;
  /** Waits for deliveries in flight (graceful shutdown, tests). */
  drain(): Promise<void>;
}

export const silentNotifier: Notifier = { notify: () => {}, drain: async () => {} };
