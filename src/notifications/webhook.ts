// The built-in notifier: every notification is POSTed as signed JSON to
// WEBHOOK_URL, in the background, with retries.
//
// What a receiver gets
//   body     {"id","type","userId","occurredAt","details"} (JSON, UTF-8)
//   headers  content-type: application/json
//            x-webhook-id: <id>            the same on every retry: deduplicate on it
//            x-webhook-timestamp: <unix seconds of this attempt>
//            x-webhook-signature: v1=<hex HMAC-SHA256(WEBHOOK_SECRET, `${timestamp}.${body}`)>
//
// How a receiver verifies (verifyWebhookSignature does exactly this)
//   1. Take the raw body bytes as received, before any JSON parsing.
//   2. Recompute hex(HMAC-SHA256(secret, timestamp + "." + body)) with the
//      x-webhook-timestamp header value exactly as sent.
//   3. Compare it with the hex after "v1=" in constant time.
//   4. Reject a timestamp more than 5 minutes from the receiver's clock, and an
//      x-webhook-id already seen in that window: together they stop replays.
// Each attempt is signed afresh, so a late retry still carries a current
// timestamp; the id and body never change. The "v1=" prefix leaves room for a
// future scheme without breaking receivers.
//
// Delivery: a 2xx answer is success. A network error, a timeout, a 429 or a 5xx
// is retried with doubling back-off (Retry-After honoured on 429/503, up to the
// cap); any other answer, a redirect included, is final.
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import type { FastifyBaseLogger } from "fastify";
import { ConfigError } from "../config.ts";
import type { Notification, Notifier } from "./notifier.ts";

export interface WebhookSettings {
  url: string;
  secret: string;
  maxAttempts: number;
  timeoutMs: number;
}

/** Back-off knobs; tests shrink them instead of sleeping. */
export interface WebhookTiming {
  /** The first retry waits about this long, each later one about twice the previous. */
  baseDelayMs?: number;
  /** No wait exceeds this, a Retry-After included. */
  maxDelayMs?: number;
}

export const MIN_SECRET_LENGTH = 32;
export const SIGNATURE_TOLERANCE_SECONDS = 300;
const DEFAULT_TIMING = { baseDelayMs: 200, maxDelayMs: 5_000 };
/** Room beyond the computed worst case for the work between attempts. */
const DRAIN_SLACK_MS = 1_000;

/** The x-webhook-signature value for one attempt. */
export function webhookSignature(secret: string, timestamp: string | number, body: string): string {
  return `v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/** The receiver's check: a matching v1 signature over a timestamp at most 5 minutes from `now`. */
export function verifyWebhookSignature(
  secret: string,
  timestamp: string | number | undefined,
  body: string,
  signatureHeader: string | undefined,
  now: Date = new Date(),
): boolean {
  const raw = timestamp === undefined ? "" : String(timestamp);
  if (!/^\d{1,12}$/.test(raw) || !signatureHeader) return false;
  if (Math.abs(now.getTime() / 1000 - Number(raw)) > SIGNATURE_TOLERANCE_SECONDS) return false;
  const expected = Buffer.from(webhookSignature(secret, raw, body));
  const given = Buffer.from(signatureHeader.trim());
  // The length is public (fixed format); only the content needs a constant-time compare.
  return expected.length === given.length && timingSafeEqual(expected, given);
}

type AttemptOutcome =
  | { kind: "delivered"; status: number }
  | { kind: "final"; status: number }
  | { kind: "retry"; reason: string; retryAfterMs: number | null };

interface Delivery {
  id: string;
  type: string;
  body: string;
}

function assertUsable(settings: WebhookSettings) {
  const problems: string[] = [];
  if (settings.secret.length < MIN_SECRET_LENGTH) {
    problems.push(`WEBHOOK_SECRET: must be at least ${MIN_SECRET_LENGTH} characters, got ${settings.secret.length} (generate one with: openssl rand -hex 32)`);
  }
  if (!/^https?:$/.test(safeProtocol(settings.url))) problems.push("WEBHOOK_URL: must be an http:// or https:// URL");
  if (problems.length > 0) throw new ConfigError(problems);
}

function safeProtocol(url: string): string {
  try {
    return new URL(url).protocol;
  } catch {
    return "";
  }
}

/** Retry-After in seconds (RFC 9110 §10.2.3); the HTTP-date form is ignored and the back-off applies. */
function retryAfterMs(response: Response): number | null {
  if (response.status !== 429 && response.status !== 503) return null;
  const value = response.headers.get("retry-after")?.trim();
  return value && /^\d+$/.test(value) ? Number(value) * 1000 : null;
}

function classify(response: Response): AttemptOutcome {
  if (response.ok) return { kind: "delivered", status: response.status };
  if (response.status === 429 || response.status >= 500) {
    return { kind: "retry", reason: `status ${response.status}`, retryAfterMs: retryAfterMs(response) };
  }
  return { kind: "final", status: response.status };
}

/** A short reason for the log: never the error message, which may echo the URL. */
function failureReason(error: unknown): string {
  if (error instanceof Error && error.name === "TimeoutError") return "timeout";
  const code = (error as { cause?: { code?: unknown } })?.cause?.code;
  return typeof code === "string" ? code : error instanceof Error ? error.name : "unknown error";
}

/** The doubling wait before retry number `attempt` (1-based), jittered so a receiver's recovery is not met by every retry at once. */
function backoffMs(attempt: number, retryAfter: number | null, timing: Required<WebhookTiming>): number {
  const doubled = timing.baseDelayMs * 2 ** (attempt - 1) * (0.8 + 0.2 * Math.random());
  return Math.round(Math.min(timing.maxDelayMs, Math.max(doubled, retryAfter ?? 0)));
}

/** Every attempt timing out and every wait at the cap: no delivery can take longer. */
function worstCaseMs(settings: WebhookSettings, timing: Required<WebhookTiming>): number {
  return settings.maxAttempts * settings.timeoutMs + (settings.maxAttempts - 1) * timing.maxDelayMs + DRAIN_SLACK_MS;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function toDelivery(notification: Notification): Delivery {
  const id = randomUUID();
  const { type, userId, occurredAt, details } = notification;
  return { id, type, body: JSON.stringify({ id, type, userId, occurredAt, details }) };
}

async function attempt(settings: WebhookSettings, delivery: Delivery): Promise<AttemptOutcome> {
  const timestamp = Math.floor(Date.now() / 1000);
  try {
    const response = await fetch(settings.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-webhook-id": delivery.id,
        "x-webhook-timestamp": String(timestamp),
        "x-webhook-signature": webhookSignature(settings.secret, timestamp, delivery.body),
      },
      body: delivery.body,
      // Following a redirect would resend the signed body to wherever it points.
      redirect: "manual",
      signal: AbortSignal.timeout(settings.timeoutMs),
    });
    // The answer's content is not used; cancelling frees the connection.
    await response.body?.cancel().catch(() => {});
    return classify(response);
  } catch (error) {
    return { kind: "retry", reason: failureReason(error), retryAfterMs: null };
  }
}

/**
 * Posts each notification as signed JSON (scheme at the top of this file).
 * Throws a ConfigError at creation for a secret shorter than 32 characters.
 */
export function createWebhookNotifier(settings: WebhookSettings, log: FastifyBaseLogger, timingOptions: WebhookTiming = {}): Notifier {
  assertUsable(settings);
  const timing = { ...DEFAULT_TIMING, ...timingOptions };
  /** Each running delivery with the time by which it has certainly finished. */
  const inFlight = new Map<Promise<void>, number>();

  async function deliver(delivery: Delivery) {
    const context = { notificationId: delivery.id, type: delivery.type };
    for (let attemptNumber = 1; ; attemptNumber++) {
      const outcome = await attempt(settings, delivery);
      if (outcome.kind === "delivered") {
        log.info({ ...context, attempts: attemptNumber, status: outcome.status }, "webhook delivered");
        return;
      }
      if (outcome.kind === "final") {
        log.warn({ ...context, attempts: attemptNumber, status: outcome.status }, "webhook refused by the receiver; not retried");
        return;
      }
      if (attemptNumber >= settings.maxAttempts) {
        log.warn({ ...context, attempts: attemptNumber, reason: outcome.reason }, "webhook delivery gave up");
        return;
      }
      const waitMs = backoffMs(attemptNumber, outcome.retryAfterMs, timing);
      log.info({ ...context, attempt: attemptNumber, reason: outcome.reason, retryInMs: waitMs }, "webhook attempt failed; will retry");
      await sleep(waitMs);
    }
  }

  function track(delivery: Delivery) {
    const running = deliver(delivery).catch((error: unknown) => {
      log.error({ notificationId: delivery.id, type: delivery.type, reason: failureReason(error) }, "webhook delivery failed unexpectedly");
    });
    inFlight.set(running, Date.now() + worstCaseMs(settings, timing));
    void running.finally(() => inFlight.delete(running));
  }

  function notify(notification: Notification) {
    try {
      track(toDelivery(notification));
    } catch (error) {
      // e.g. details that JSON cannot represent: the caller's request must not fail for it.
      log.warn({ type: notification?.type, reason: failureReason(error) }, "webhook notification could not be prepared");
    }
  }

  /** Resolves when nothing is in flight, or once the latest worst-case finish time has passed. */
  async function drain() {
    while (inFlight.size > 0) {
      const remainingMs = Math.max(...inFlight.values()) - Date.now();
      const finished = await settledWithin([...inFlight.keys()], remainingMs);
      if (!finished) {
        log.warn({ pending: inFlight.size }, "webhook drain stopped waiting for deliveries");
        return;
      }
    }
  }

  return { notify, drain };
}

/** True when every promise settled before `ms` elapsed. */
async function settledWithin(promises: Promise<unknown>[], ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, ms));
  });
  try {
    return await Promise.race([Promise.allSettled(promises).then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
