import type { FastifyBaseLogger } from "fastify";
import type { Notifier } from "./notifier.ts";

export interface WebhookSettings {
  url: string;
  secret: string;
  maxAttempts: number;
  timeoutMs: number;
}

/** Posts each notification as signed JSON (implementation in progress). */
export function createWebhookNotifier(_settings: WebhookSettings, log: FastifyBaseLogger): Notifier {
  return {
    notify: (n) => log.info({ notification: n.type }, "webhook notifier not implemented yet"),
    drain: async () => {},
  };
}
