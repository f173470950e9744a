// Firebase Cloud Messaging, HTTP v1 API. Authorisation is OAuth 2.0 with a
// service-account JWT assertion (RFC 7523 §2.1): an RS256 JWT {iss:
// client_email, scope: firebase.messaging, aud: token URI, exp ≤ iat + 1 h}
// exchanged for an access token. The token is cached until 60 s before it
// expires and one exchange in flight serves every concurrent send, so a burst
// of sign-ins costs one round trip to the token endpoint, not one per message.
import { importPKCS8, SignJWT, type CryptoKey } from "jose";
import type { Clock } from "../../lib/clock.ts";
import { fromError, fromStatus, pushData, secondsLeft, type Attempt, type Transport } from "./transport.ts";

export interface FcmSettings {
  projectId: string;
  /** client_email of the service account: the assertion's iss. */
  clientEmail: string;
  /** private_key of the service account: PKCS#8 PEM of an RSA key. */
  privateKey: string;
  tokenUrl: string;
  baseUrl: string;
  timeoutMs: number;
}

export const FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging";
export const JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const ASSERTION_LIFETIME_SECONDS = 3600;
const REFRESH_MARGIN_MS = 60_000;

interface AccessToken { value: string; expiresAtMs: number }

/** The token endpoint refused: its status decides whether a retry can help. */
class TokenExchangeError extends Error {
  constructor(readonly status: number) {
    super(`token endpoint answered ${status}`);
  }
}

/** FCM's error code: details[].errorCode of a google.firebase.fcm.v1.FcmError, else the RPC status. */
function fcmErrorCode(body: string): string | undefined {
  try {
    const error = (JSON.parse(body) as { error?: { status?: unknown; details?: { errorCode?: unknown }[] } }).error;
    const detail = error?.details?.find((d) => typeof d?.errorCode === "string")?.errorCode;
    return typeof detail === "string" ? detail : typeof error?.status === "string" ? error.status : undefined;
  } catch {
    return undefined;
  }
}

export function createFcmTransport(settings: FcmSettings, deps: { clock: Clock }): Transport<"fcm"> {
  const sendUrl = new URL(`/v1/projects/${encodeURIComponent(settings.projectId)}/messages:send`, settings.baseUrl);
  let signingKey: Promise<CryptoKey> | null = null;
  let cached: AccessToken | null = null;
  let exchanging: Promise<AccessToken> | null = null;

  async function exchange(): Promise<AccessToken> {
    const nowMs = deps.clock.now().getTime();
    const iat = Math.floor(nowMs / 1000);
    signingKey ??= importPKCS8(settings.privateKey, "RS256");
    const assertion = await new SignJWT({ scope: FCM_SCOPE })
      .setProtectedHeader({ alg: "RS256", typ: "JWT" })
      .setIssuer(settings.clientEmail)
      .setAudience(settings.tokenUrl)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ASSERTION_LIFETIME_SECONDS)
      .sign(await signingKey);
    const response = await fetch(settings.tokenUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion }),
      // A redirect would hand the assertion to wherever it points.
      redirect: "error",
      signal: AbortSignal.timeout(settings.timeoutMs),
    });
    const body = (await response.json().catch(() => ({}))) as { access_token?: unknown; expires_in?: unknown };
    if (!response.ok || typeof body.access_token !== "string" || typeof body.expires_in !== "number") {
      throw new TokenExchangeError(response.ok ? 502 : response.status);
    }
    return { value: body.access_token, expiresAtMs: nowMs + body.expires_in * 1000 };
  }

  async function accessToken(): Promise<string> {
    if (cached && deps.clock.now().getTime() < cached.expiresAtMs - REFRESH_MARGIN_MS) return cached.value;
    exchanging ??= exchange().finally(() => { exchanging = null; });
    cached = await exchanging;
    return cached.value;
  }

  async function send(token: string, registrationToken: string, body: object): Promise<Attempt> {
    const response = await fetch(sendUrl, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ message: { token: registrationToken, ...body } }),
      redirect: "error",
      signal: AbortSignal.timeout(settings.timeoutMs),
    });
    const code = fcmErrorCode(await response.text());
    if (response.status === 401) {
      // An access token revoked before its time: the retry exchanges a new one.
      cached = null;
      return { outcome: "failed", retry: true, status: 401, reason: code ?? "status 401" };
    }
    return fromStatus(response.status, response.status === 404 || code === "UNREGISTERED", code);
  }

  return {
    async attempt(address, message) {
      try {
        const token = await accessToken();
        return await send(token, address.registrationToken, {
          // Data only: the app decides what to show after fetching the challenge.
          data: pushData(message),
          // FCM holds the message no longer than the challenge lives; high priority wakes the app.
          android: { ttl: `${secondsLeft(message.expiresAt, deps.clock.now())}s`, priority: "high" },
        });
      } catch (error) {
        if (error instanceof TokenExchangeError) return fromStatus(error.status, false, "token exchange refused");
        return fromError(error);
      }
    },
  };
}
