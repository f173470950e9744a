// One webhook attempt, signed by the Standard Webhooks specification
// (https://www.standardwebhooks.com, spec/standard-webhooks.md) with its
// reference library `standardwebhooks`, so a receiver verifies with any of its
// libraries (TypeScript, Python, Go, Rust, Java, PHP, Ruby, C#, Elixir).
//
// What a receiver gets
//   body     {"id","type","userId","occurredAt","details"} (JSON, UTF-8), the same bytes on every attempt
//   headers  content-type: application/json
//            webhook-id: <id>                 the event's id, the same on every retry: deduplicate on it
//            webhook-timestamp: <unix seconds of this attempt>
//            webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>
//   and, with WEBHOOK_LEGACY_HEADERS=true (a transition period), also the
//   former x-webhook-id, x-webhook-timestamp and
//   x-webhook-signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>.
//
// The key is WEBHOOK_SECRET: `whsec_<base64>` is the specification's form (the
// key is the decoded bytes); a secret without the prefix, as configured before,
// keeps working and its UTF-8 bytes are the key, i.e. receivers' libraries take
// "whsec_" + base64(secret) (README "Audit log and notifications").
//
// Each attempt is signed afresh, so a late retry carries a current timestamp;
// the id and body never change. A 2xx answer is success. A network error, a
// timeout, a 429 or a 5xx is retried (Retry-After honoured on 429/503, up to
// the cap); any other answer is final. Redirects are never followed: that
// would resend the signed body to wherever the answer points.
import { createHmac } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { ConfigError } from "../config.ts";

export interface WebhookSettings {
  url: string;
  secret: string;
  timeoutMs: number;
  /** Also send the x-webhook-* headers of the former scheme. */
  legacyHeaders: boolean;
}

export type AttemptOutcome =
  | { kind: "delivered"; status: number }
  | { kind: "final"; status: number }
  | { kind: "retry"; reason: string; retryAfterMs: number | null };

export interface WebhookMessage {
  id: string;
  body: string;
}

export const MIN_RAW_SECRET_LENGTH = 32;
/** The specification asks for 24 to 64 random bytes. */
export const MIN_KEY_BYTES = 24;
const PREFIX = "whsec_";

/** The HMAC key of WEBHOOK_SECRET: the base64 of a `whsec_` secret, else the secret's UTF-8 bytes. */
export function webhookKey(secret: string): Uint8Array {
  if (!secret.startsWith(PREFIX)) return new Uint8Array(Buffer.from(secret, "utf8"));
  return new Uint8Array(Buffer.from(secret.slice(PREFIX.length), "base64"));
}

function assertUsable(settings: WebhookSettings) {
  const problems: string[] = [];
  const { secret } = settings;
  if (secret.startsWith(PREFIX)) {
    const encoded = secret.slice(PREFIX.length);
    const bytes = webhookKey(secret).length;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || bytes < MIN_KEY_BYTES) {
      problems.push(`WEBHOOK_SECRET: a whsec_ secret must be standard base64 of at least ${MIN_KEY_BYTES} bytes, got ${bytes} (generate one with: echo whsec_$(openssl rand -base64 32))`);
    }
  } else if (secret.length < MIN_RAW_SECRET_LENGTH) {
    problems.push(`WEBHOOK_SECRET: must be whsec_<base64> or at least ${MIN_RAW_SECRET_LENGTH} characters, got ${secret.length} (generate one with: echo whsec_$(openssl rand -base64 32))`);
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

/** The former x-webhook-signature value (kept for WEBHOOK_LEGACY_HEADERS). */
export function legacySignature(secret: string, timestamp: string | number, body: string): string {
  return `v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
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

/** A short reason for the log and the row: never the error message, which may echo the URL. */
export function failureReason(error: unknown): string {
  if (error instanceof Error && error.name === "TimeoutError") return "timeout";
  const code = (error as { cause?: { code?: unknown } })?.cause?.code;
  return typeof code === "string" ? code : error instanceof Error ? error.name : "unknown error";
}

/**
 * The sender of signed attempts (scheme at the top of this file). Throws a
 * ConfigError at creation for an unusable secret or URL.
 */
export function createWebhookSender(settings: WebhookSettings) {
  assertUsable(settings);
  const signer = new Webhook(webhookKey(settings.secret), { format: "raw" });

  function headersFor(message: WebhookMessage, now: Date): Record<string, string> {
    const seconds = Math.floor(now.getTime() / 1000);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "webhook-id": message.id,
      "webhook-timestamp": String(seconds),
      "webhook-signature": signer.sign(message.id, now, message.body),
    };
    if (settings.legacyHeaders) {
      headers["x-webhook-id"] = message.id;
      headers["x-webhook-timestamp"] = String(seconds);
      headers["x-webhook-signature"] = legacySignature(settings.secret, seconds, message.body);
    }
    return headers;
  }

  return async function send(message: WebhookMessage): Promise<AttemptOutcome> {
    try {
      const response = await fetch(settings.url, {
        method: "POST",
        headers: headersFor(message, new Date()),
        body: message.body,
        // A redirect is an answer like any other non-2xx: final, never followed.
        redirect: "manual",
        signal: AbortSignal.timeout(settings.timeoutMs),
      });
      // The answer's content is not used; cancelling frees the connection.
      await response.body?.cancel().catch(() => {});
      return classify(response);
    } catch (error) {
      return { kind: "retry", reason: failureReason(error), retryAfterMs: null };
    }
  };
}

export type WebhookSender = ReturnType<typeof createWebhookSender>;
