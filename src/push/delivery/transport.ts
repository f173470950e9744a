// What every vendor module (web-push.ts, apns.ts, fcm.ts) shares: one attempt's
// classified result, the payload, and the rules for which failures are worth a
// retry. Retrying itself lives in sender.ts, once for all of them.
import type { PushAddress, PushMessage } from "./sender.ts";

export type PushKind = PushAddress["kind"];

/** One request's result: "failed" says whether the same request may succeed a moment later. */
export type Attempt =
  | { outcome: "sent" | "gone"; status: number }
  | { outcome: "failed"; retry: boolean; reason: string; status?: number };

export interface Transport<K extends PushKind = PushKind> {
  attempt(address: Extract<PushAddress, { kind: K }>, message: PushMessage): Promise<Attempt>;
  /** Frees long-lived connections (the APNs HTTP/2 session) at shutdown. */
  close?(): Promise<void>;
}

/** A fixed type tells the app what to do; the app fetches everything else itself, so no push service learns who signs in. */
export const PUSH_MESSAGE_TYPE = "push-approval";

export function pushData(message: PushMessage): { type: string; challengeId: string } {
  return { type: PUSH_MESSAGE_TYPE, challengeId: message.challengeId };
}

/** Whole seconds of life the challenge has left at `now`: the TTL a push service may hold the message. */
export function secondsLeft(expiresAt: Date, now: Date): number {
  return Math.max(0, Math.ceil((expiresAt.getTime() - now.getTime()) / 1000));
}

/**
 * A push service's HTTP answer. 429 and 5xx are the service's own trouble and
 * pass (RFC 9110 §15.6; APNs and FCM document both as "retry later"); any other
 * non-2xx is about this request and would fail again.
 */
export function fromStatus(status: number, gone: boolean, detail?: string): Attempt {
  if (status >= 200 && status < 300) return { outcome: "sent", status };
  if (gone) return { outcome: "gone", status };
  const retry = status === 429 || status >= 500;
  return { outcome: "failed", retry, status, reason: detail ?? `status ${status}` };
}

export class TimeoutError extends Error {
  override readonly name = "TimeoutError";
  constructor() {
    super("push attempt timed out");
  }
}

function errorCode(error: unknown): string | null {
  const own = (error as { code?: unknown } | null)?.code;
  if (typeof own === "string") return own;
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  return typeof cause === "string" ? cause : null;
}

/**
 * A thrown error. A timeout is final: the service may have taken the message
 * (a resend could alert the phone twice) and the caller should not wait a
 * second timeout. A system error (refused, reset, DNS) is retried. An error
 * without a code was raised before any I/O (a malformed subscription) and is
 * final. The reason is a code, never the message, which may echo an address.
 */
export function fromError(error: unknown): Attempt {
  if (error instanceof Error && (error.name === "TimeoutError" || error.message === "Socket timeout")) {
    return { outcome: "failed", retry: false, reason: "timeout" };
  }
  const code = errorCode(error);
  if (code) return { outcome: "failed", retry: true, reason: code };
  return { outcome: "failed", retry: false, reason: error instanceof Error ? `rejected before sending (${error.name})` : "rejected before sending" };
}
