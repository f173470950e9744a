// The push delivery library the push-approval factor calls: one PushSender
// for every kind of address, whatever vendor sits behind it.
//
// Contract
//   - send() never throws and answers "sent", "gone" or "failed". "gone" means
//     the push service says the address is dead: the caller drops it and
//     audits that. "failed" is anything else; the login must not fail for it
//     (the app also polls for pending challenges).
//   - The payload is the fixed type and the challenge id, nothing about the
//     person: the app fetches the context over its own authenticated channel.
//   - Transient failures (a network error, 429, 5xx) are retried briefly; a
//     timeout is not (see transport.ts fromError). An expired challenge is
//     not sent at all.
//   - Every send's final outcome goes to deps.count (a metric); logs carry the
//     kind, outcome, status and a reason code, never an address or token.
import type { Agent } from "node:https";
import type { Clock } from "../../lib/clock.ts";
import { createApnsTransport } from "./apns.ts";
import { createFcmTransport } from "./fcm.ts";
import type { PushDeliverySettings } from "./settings.ts";
import type { Attempt, PushKind, Transport } from "./transport.ts";
import { createWebPushTransport } from "./web-push.ts";

export type PushAddress =
  | { kind: "webpush"; subscription: { endpoint: string; keys: { p256dh: string; auth: string } } }
  | { kind: "apns"; deviceToken: string }
  | { kind: "fcm"; registrationToken: string };

/** Carries only the challenge id (and the fixed type the payload adds); expiresAt bounds every TTL. */
export interface PushMessage { challengeId: string; expiresAt: Date }

/** gone = the push service says the address is dead (Web Push 404/410, APNs 410 / Unregistered / BadDeviceToken, FCM UNREGISTERED/404). */
export type SendOutcome = "sent" | "gone" | "failed";

export interface PushSender {
  /** Never throws. */
  send(address: PushAddress, message: PushMessage): Promise<SendOutcome>;
}

/**
 * For a deployment with no sender configured: every send is "failed", so the
 * caller keeps the address and the app's polling carries the challenge.
 */
export const noPushSender: PushSender = { send: async () => "failed" };

export interface PushLog {
  warn(details: object, message: string): void;
  info(details: object, message: string): void;
}

export interface PushDeliveryDeps {
  clock: Clock;
  log: PushLog;
  /** Called once per send with its final outcome (a prom-client counter's inc). */
  count?: (kind: PushKind, outcome: SendOutcome) => void;
  /** Trust for the Web Push HTTPS requests; default Node's CA store. */
  webPushAgent?: Agent;
}

export interface PushDelivery extends PushSender {
  /** The kinds with a configured sender, for the integrator to advertise. */
  readonly kinds: readonly PushKind[];
  close(): Promise<void>;
}

const PUSH_KINDS: readonly PushKind[] = ["webpush", "apns", "fcm"];
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

type Transports = { [K in PushKind]?: Transport<K> };

function configuredTransports(settings: PushDeliverySettings, deps: PushDeliveryDeps): Transports {
  const { clock } = deps;
  return {
    ...(settings.webPush ? { webpush: createWebPushTransport(settings.webPush, { clock, agent: deps.webPushAgent }) } : {}),
    ...(settings.apns ? { apns: createApnsTransport(settings.apns, { clock }) } : {}),
    ...(settings.fcm ? { fcm: createFcmTransport(settings.fcm, { clock }) } : {}),
  };
}

/** Routes each address to its kind's sender and retries transient failures after each of settings.retryDelaysMs. */
export function createPushDelivery(settings: PushDeliverySettings, deps: PushDeliveryDeps): PushDelivery {
  const transports = configuredTransports(settings, deps);
  const { log, clock } = deps;

  async function attemptWithRetries(transport: Transport, address: PushAddress, message: PushMessage) {
    for (let attempts = 1; ; attempts++) {
      const result: Attempt = await transport.attempt(address, message);
      const delay = settings.retryDelaysMs[attempts - 1];
      const again = result.outcome === "failed" && result.retry && delay !== undefined && message.expiresAt > clock.now();
      if (!again) return { result, attempts };
      log.info({ kind: address.kind, attempt: attempts, reason: result.reason, retryInMs: delay }, "push attempt failed; will retry");
      await sleep(delay);
    }
  }

  async function deliver(address: PushAddress, message: PushMessage): Promise<SendOutcome> {
    const kind = address.kind;
    // The address's kind picks the transport, so it receives its own kind of address.
    const transport = transports[kind] as Transport | undefined;
    if (!transport) {
      log.warn({ kind }, "push not sent: no sender configured for this kind");
      return "failed";
    }
    if (!(message.expiresAt > clock.now())) {
      log.info({ kind }, "push not sent: the challenge has expired");
      return "failed";
    }
    const { result, attempts } = await attemptWithRetries(transport, address, message);
    if (result.outcome === "gone") log.info({ kind, attempts, status: result.status }, "push service says the address is gone");
    if (result.outcome === "failed") log.warn({ kind, attempts, status: result.status, reason: result.reason }, "push not delivered");
    return result.outcome;
  }

  async function send(address: PushAddress, message: PushMessage): Promise<SendOutcome> {
    let outcome: SendOutcome;
    try {
      outcome = await deliver(address, message);
    } catch (error) {
      log.warn({ kind: address?.kind, reason: error instanceof Error ? error.name : "unknown" }, "push send failed unexpectedly");
      outcome = "failed";
    }
    try {
      // Only the three known kinds: a malformed address must not add a metric label.
      if (PUSH_KINDS.includes(address?.kind)) deps.count?.(address.kind, outcome);
    } catch {
      // A broken metric must not turn a delivered push into an exception.
    }
    return outcome;
  }

  return {
    kinds: Object.keys(transports) as PushKind[],
    send,
    async close() {
      await Promise.allSettled(Object.values(transports).map((t) => t.close?.()));
    },
  };
}
