// The reference authenticator app's protocol, without a terminal: the CLI
// (cli.ts) and the tests drive push approval through this same code. It holds
// one P-256 key (ES256); every request it makes is signed with it.
import type { PushAddress } from "../push/delivery/sender.ts";
import { randomBytes } from "node:crypto";
import { CompactSign, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from "jose";
import { ANSWER_TYP, PAIRING_TYP, REQUEST_TYP } from "../push/app-signature.ts";
import type { ChallengeContext } from "../push/context.ts";

export interface HttpRequest { method: "GET" | "POST"; path: string; headers?: Record<string, string>; body?: unknown }
export interface HttpResponse { status: number; body: unknown }
/** How the app reaches the service: fetch in the CLI, app.inject in tests. */
export type Transport = (request: HttpRequest) => Promise<HttpResponse>;

export function fetchTransport(baseUrl: string): Transport {
  return async ({ method, path, headers, body }) => {
    const res = await fetch(new URL(path, baseUrl), {
      method, headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
}

/** What the key file holds (mode 0600). */
export interface AppState {
  serviceUrl: string | null;
  name: string;
  privateJwk: JWK;
  publicJwk: JWK;
  thumbprint: string;
  /** TOTP secrets (Base32) by label, for `code`. */
  totpSecrets: Record<string, string>;
}

export async function newAppState(name: string): Promise<AppState> {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  return { serviceUrl: null, name, privateJwk: await exportJWK(privateKey), publicJwk, thumbprint: await calculateJwkThumbprint(publicJwk, "sha256"), totpSecrets: {} };
}

/** A challenge as the app lists it: the context the person decides on, and its hash to sign. */
export interface PendingChallenge extends ChallengeContext {
  id: string;
  numberRequired: boolean;
  contextHash: string;
}

export class ServiceError extends Error {
  constructor(readonly status: number, readonly body: unknown) {
    super(`service answered ${status}: ${JSON.stringify(body)}`);
  }
}

const jti = () => randomBytes(18).toString("base64url");

export function createAuthenticatorClient(state: AppState, transport: Transport, now: () => Date = () => new Date()) {
  const iat = () => Math.floor(now().getTime() / 1000);

  async function sign(typ: string, claims: Record<string, unknown>, withKid = true) {
    const key = await importJWK(state.privateJwk, "ES256");
    return new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
      .setProtectedHeader({ alg: "ES256", typ, ...(withKid ? { kid: state.thumbprint } : {}) })
      .sign(key);
  }

  async function call(request: HttpRequest) {
    const res = await transport(request);
    if (res.status >= 300) throw new ServiceError(res.status, res.body);
    return res.body;
  }

  return {
    state,
    /** Pairs with the service named in the URI; the person then confirms the name in their session. */
    async pair(uri: string, options: { pushAddress?: PushAddress } = {}) {
      const parsed = new URL(uri);
      const token = parsed.searchParams.get("token");
      const serviceUrl = parsed.searchParams.get("url");
      if (parsed.protocol !== "idpush:" || !token || !serviceUrl) throw new Error("not a pairing URI (idpush://pair?...)");
      const proof = await sign(PAIRING_TYP, { nonce: token, aud: serviceUrl, iat: iat() }, false);
      const publicKey = { kty: state.publicJwk.kty, crv: state.publicJwk.crv, x: state.publicJwk.x, y: state.publicJwk.y };
      const body = await call({ method: "POST", path: "/v1/authenticator/pairings", body: { pairingToken: token, name: state.name, publicKey, proof, ...(options.pushAddress ? { pushAddress: options.pushAddress } : {}) } });
      state.serviceUrl = serviceUrl;
      return body as { pairingId: string; thumbprint: string; status: string };
    },

    /** The pending challenges, waiting up to `waitSeconds` (≤ 25) for one. */
    async pending(waitSeconds = 0): Promise<PendingChallenge[]> {
      const path = "/v1/authenticator/challenges";
      const signature = await sign(REQUEST_TYP, { htm: "GET", htu: path, iat: iat(), jti: jti() });
      const body = await call({ method: "GET", path: `${path}?waitSeconds=${Math.min(25, Math.max(0, Math.floor(waitSeconds)))}`, headers: { "x-app-signature": signature } });
      return (body as { challenges: PendingChallenge[] }).challenges;
    },

    /** A signed answer: `claims` overrides let tests forge what a broken or hostile app would send. */
    async answerJws(challenge: Pick<PendingChallenge, "id" | "contextHash">, decision: "approve" | "reject", options: { number?: string; reason?: "not_me" | "declined"; claims?: Record<string, unknown> } = {}) {
      const t = iat();
      return sign(ANSWER_TYP, {
        cid: challenge.id, decision, ...(options.number ? { number: options.number } : {}), ...(options.reason ? { reason: options.reason } : {}),
        ctx: challenge.contextHash, aud: state.serviceUrl, iat: t, exp: t + 30, jti: jti(), ...options.claims,
      });
    },

    async send(challengeId: string, answer: string) {
      return call({ method: "POST", path: `/v1/authenticator/challenges/${challengeId}`, body: { answer } }) as Promise<{ status: string; reason?: string }>;
    },

    async answer(challenge: PendingChallenge, decision: "approve" | "reject", options: { number?: string; reason?: "not_me" | "declined" } = {}) {
      return this.send(challenge.id, await this.answerJws(challenge, decision, options));
    },
  };
}

export type AuthenticatorClient = ReturnType<typeof createAuthenticatorClient>;
