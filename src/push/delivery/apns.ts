// Apple Push Notification service, provider API over HTTP/2 with token auth.
// Our own ~150 lines on node:http2 + jose rather than @parse/node-apn (pulls
// node-forge and jsonwebtoken) or apns2 (undici and fast-jwt): the protocol is
// one POST on one long-lived HTTP/2 connection, jose is already our JWT
// library, and a configurable base URL lets the tests speak to a local server.
//
// Apple's rules this follows ("Establishing a token-based connection to APNs",
// "Sending notification requests to APNs"):
//   - the provider token is an ES256 JWT {kid} {iss: team id, iat}; Apple
//     refuses one older than 1 h (403 ExpiredProviderToken) and one renewed
//     more often than every 20 min (429 TooManyProviderTokenUpdates), so it is
//     reused for 50 min;
//   - one connection is kept open and reused: Apple treats rapid reconnects as
//     a denial of service.
import { connect, constants, type ClientHttp2Session, type OutgoingHttpHeaders } from "node:http2";
import { importPKCS8, SignJWT, type CryptoKey } from "jose";
import type { Clock } from "../../lib/clock.ts";
import type { PushMessage } from "./sender.ts";
import { fromError, fromStatus, pushData, TimeoutError, type Transport } from "./transport.ts";

export interface ApnsSettings {
  teamId: string;
  keyId: string;
  /** The .p8 auth key: PKCS#8 PEM of a P-256 key. */
  privateKey: string;
  /** The app's bundle id (apns-topic). */
  topic: string;
  baseUrl: string;
  timeoutMs: number;
}

export const PROVIDER_TOKEN_REUSE_MS = 50 * 60_000;
/** 410 always means the token is no longer active; these 400 reasons mean it never will be. */
const GONE_REASONS = new Set(["Unregistered", "BadDeviceToken"]);
/** Device tokens are hex; checking keeps anything else out of the request path. */
const DEVICE_TOKEN = /^[0-9a-f]{16,400}$/i;

interface Answer { status: number; body: string }

function reasonOf(body: string): string | undefined {
  try {
    const reason = (JSON.parse(body) as { reason?: unknown }).reason;
    return typeof reason === "string" ? reason : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The alert text is a localization key the app resolves, so the payload holds
 * the fixed type and the challenge id only; an alert push must carry aps.alert.
 */
function apnsPayload(message: PushMessage): string {
  return JSON.stringify({ aps: { alert: { "loc-key": "PUSH_APPROVAL_REQUEST" }, sound: "default" }, ...pushData(message) });
}

export function createApnsTransport(settings: ApnsSettings, deps: { clock: Clock }): Transport<"apns"> {
  let signingKey: Promise<CryptoKey> | null = null;
  let token: { jwt: Promise<string>; issuedAtMs: number } | null = null;
  let session: ClientHttp2Session | null = null;

  function providerToken(): Promise<string> {
    const nowMs = deps.clock.now().getTime();
    const age = token ? nowMs - token.issuedAtMs : Infinity;
    if (token && age >= 0 && age < PROVIDER_TOKEN_REUSE_MS) return token.jwt;
    signingKey ??= importPKCS8(settings.privateKey, "ES256");
    const jwt = signingKey.then((key) =>
      new SignJWT({ iss: settings.teamId })
        .setProtectedHeader({ alg: "ES256", kid: settings.keyId })
        .setIssuedAt(Math.floor(nowMs / 1000))
        .sign(key),
    );
    const minted = { jwt, issuedAtMs: nowMs };
    token = minted;
    jwt.catch(() => { if (token === minted) token = null; });
    return jwt;
  }

  function openSession(): ClientHttp2Session {
    if (session && !session.closed && !session.destroyed) return session;
    const opened = connect(settings.baseUrl);
    const forget = () => { if (session === opened) session = null; };
    // Failures surface on the request streams; the session is only forgotten.
    opened.on("error", forget);
    opened.on("close", forget);
    // RFC 9113 §6.8: after GOAWAY no new stream may start on this connection.
    opened.on("goaway", forget);
    // An idle connection must not keep the process alive at shutdown.
    opened.unref();
    session = opened;
    return opened;
  }

  function post(path: string, headers: OutgoingHttpHeaders, body: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const current = openSession();
      const request = current.request({ ":method": "POST", ":path": path, ...headers });
      const timer = setTimeout(() => {
        request.close(constants.NGHTTP2_CANCEL);
        // A connection that hangs once is not trusted with the next message.
        current.destroy();
        reject(new TimeoutError());
      }, settings.timeoutMs);
      let status = 0;
      let text = "";
      request.setEncoding("utf8");
      request.on("response", (responseHeaders) => { status = Number(responseHeaders[":status"]); });
      request.on("data", (chunk: string) => { text += chunk; });
      request.on("end", () => { clearTimeout(timer); resolve({ status, body: text }); });
      request.on("error", (error) => { clearTimeout(timer); reject(error); });
      request.end(body);
    });
  }

  return {
    async attempt(address, message) {
      if (!DEVICE_TOKEN.test(address.deviceToken)) return { outcome: "failed", retry: false, reason: "malformed device token" };
      try {
        const jwt = await providerToken();
        const answer = await post(`/3/device/${address.deviceToken}`, {
          authorization: `bearer ${jwt}`,
          "content-type": "application/json",
          "apns-topic": settings.topic,
          "apns-push-type": "alert",
          // 10 = deliver immediately: someone is waiting at a sign-in form.
          "apns-priority": "10",
          // APNs stores the notification until then and no longer (unix seconds).
          "apns-expiration": String(Math.floor(message.expiresAt.getTime() / 1000)),
          // A repeated push for the same challenge replaces the shown one (≤ 64 bytes).
          "apns-collapse-id": message.challengeId,
        }, apnsPayload(message));
        const reason = reasonOf(answer.body);
        if (answer.status === 403 && reason === "ExpiredProviderToken") {
          // Our clock and Apple's disagree on the token's age: a fresh one succeeds.
          token = null;
          return { outcome: "failed", retry: true, status: answer.status, reason };
        }
        return fromStatus(answer.status, answer.status === 410 || (answer.status === 400 && GONE_REASONS.has(reason ?? "")), reason);
      } catch (error) {
        return fromError(error);
      }
    },
    async close() {
      const open = session;
      session = null;
      if (open && !open.closed && !open.destroyed) await new Promise<void>((resolve) => open.close(() => resolve()));
    },
  };
}
