// Web Push (RFC 8030) through the maintained `web-push` package: it encrypts
// the payload with aes128gcm (RFC 8291 §3-4, a fresh ECDH key and salt per
// message) and signs the VAPID JWT (RFC 8292 §2: aud = the endpoint's origin,
// exp 12 h, within the 24 h limit). VAPID details go with every call, never
// through its module-level setVapidDetails, so two instances cannot mix keys.
import { createHash } from "node:crypto";
import type { Agent } from "node:https";
import webpush from "web-push";
import type { Clock } from "../../lib/clock.ts";
import { fromError, fromStatus, pushData, secondsLeft, type Transport } from "./transport.ts";

export interface WebPushSettings {
  publicKey: string;
  privateKey: string;
  /** mailto: or https: contact (RFC 8292 §2.1 sub). */
  subject: string;
  timeoutMs: number;
}

export interface WebPushDeps {
  clock: Clock;
  /** An https.Agent with its own trust (tests pass one that trusts only their certificate). */
  agent?: Agent;
}

/**
 * RFC 8030 §5.4: a Topic is at most 32 base64url characters. A hash fits any
 * challenge id into that, and a queued push for the same challenge is
 * replaced rather than delivered twice.
 */
export function webPushTopic(challengeId: string): string {
  return createHash("sha256").update(challengeId).digest("base64url").slice(0, 22);
}

/** RFC 8030 §7.3: 410 is an expired subscription; several services (FCM, Mozilla) answer 404 for an unknown one. */
const GONE_STATUSES = new Set([404, 410]);

export function createWebPushTransport(settings: WebPushSettings, deps: WebPushDeps): Transport<"webpush"> {
  const vapidDetails = { subject: settings.subject, publicKey: settings.publicKey, privateKey: settings.privateKey };
  return {
    async attempt(address, message) {
      try {
        const result = await webpush.sendNotification(address.subscription, JSON.stringify(pushData(message)), {
          vapidDetails,
          contentEncoding: "aes128gcm",
          // RFC 8030 §5.2: the service keeps the message no longer than the challenge lives.
          TTL: secondsLeft(message.expiresAt, deps.clock.now()),
          // RFC 8030 §5.3: someone is waiting at a sign-in form.
          urgency: "high",
          topic: webPushTopic(message.challengeId),
          timeout: settings.timeoutMs,
          ...(deps.agent ? { agent: deps.agent } : {}),
        });
        return fromStatus(result.statusCode, false);
      } catch (error) {
        if (error instanceof webpush.WebPushError) return fromStatus(error.statusCode, GONE_STATUSES.has(error.statusCode));
        return fromError(error);
      }
    },
  };
}
