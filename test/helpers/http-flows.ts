// The public flows over real HTTP (fetch), for tests that drive service processes rather than
// app.inject: create a person, sign in, enrol TOTP, finish the second step, refresh, pair the
// reference authenticator app. Codes come from the independent RFC 6238 code of ./mfa.ts.
import { createAuthenticatorClient, fetchTransport, newAppState } from "../../src/authenticator-app/client.ts";
import { TEST_PASSWORD } from "./app.ts";
import { totpAt } from "./mfa.ts";
import { randomBytes } from "node:crypto";

export interface Answer { status: number; body: Record<string, unknown>; headers: Headers; ms: number }

/** One request; never throws for a status. A network failure or a hang past timeoutMs answers status 0. */
export async function call(baseUrl: string, method: string, path: string, options: { body?: unknown; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<Answer> {
  const started = performance.now();
  try {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { ...(options.body !== undefined ? { "content-type": "application/json" } : {}), ...options.headers },
      body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
    const text = await res.text();
    let body: Record<string, unknown> = {};
    try { body = text ? JSON.parse(text) : {}; } catch { body = { raw: text }; }
    return { status: res.status, body, headers: res.headers, ms: performance.now() - started };
  } catch (error) {
    return { status: 0, body: { error: (error as Error).name }, headers: new Headers(), ms: performance.now() - started };
  }
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export async function createPerson(baseUrl: string, apiKey: string) {
  const email = `p${randomBytes(5).toString("hex")}@example.com`;
  const res = await call(baseUrl, "POST", "/v1/users", { headers: { "x-api-key": apiKey }, body: { email, password: TEST_PASSWORD, name: "Test Person" } });
  if (res.status !== 201) throw new Error(`create user: ${res.status} ${JSON.stringify(res.body)}`);
  return { id: res.body.id as string, email, password: TEST_PASSWORD };
}

export const signIn = (baseUrl: string, email: string, password = TEST_PASSWORD) =>
  call(baseUrl, "POST", "/v1/auth/login", { body: { email, password } });

export const refresh = (baseUrl: string, refreshToken: string) => call(baseUrl, "POST", "/v1/auth/refresh", { body: { refreshToken } });

/** Signs in (no second factor) and returns the tokens; throws unless authenticated. */
export async function session(baseUrl: string, email: string) {
  const res = await signIn(baseUrl, email);
  if (res.status !== 200 || res.body.status !== "authenticated") throw new Error(`sign-in: ${res.status} ${JSON.stringify(res.body)}`);
  return { accessToken: res.body.accessToken as string, refreshToken: res.body.refreshToken as string };
}

/** A person with an active TOTP factor; returns the seed and the recovery code. */
export async function personWithTotp(baseUrl: string, apiKey: string) {
  const person = await createPerson(baseUrl, apiKey);
  const { accessToken } = await session(baseUrl, person.email);
  const start = await call(baseUrl, "POST", "/v1/me/mfa/totp", { headers: bearer(accessToken) });
  if (start.status !== 200) throw new Error(`enrol: ${start.status} ${JSON.stringify(start.body)}`);
  const secret = new URL(start.body.otpauthUri as string).searchParams.get("secret")!;
  const confirm = await call(baseUrl, "POST", "/v1/me/mfa/totp/confirm", { headers: bearer(accessToken), body: { code: totpAt(secret, new Date()) } });
  if (confirm.status !== 200) throw new Error(`confirm: ${confirm.status} ${JSON.stringify(confirm.body)}`);
  return { ...person, secret, recoveryCode: (confirm.body.recoveryCodes as string[])[0]! };
}

/** The MFA token of a password sign-in that needs a second step. */
export async function mfaTokenOf(baseUrl: string, email: string): Promise<string> {
  const res = await signIn(baseUrl, email);
  if (res.body.status !== "mfa_required") throw new Error(`expected mfa_required: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.mfaToken as string;
}

export const verifySecondStep = (baseUrl: string, mfaToken: string, method: "totp" | "recovery_code", code: string) =>
  call(baseUrl, "POST", "/v1/auth/mfa/verify", { body: { mfaToken, method, code } });

/** A person with the reference authenticator app paired for push approval (over HTTP, the app's own client). */
export async function personWithPushApp(baseUrl: string, apiKey: string) {
  const person = await createPerson(baseUrl, apiKey);
  const { accessToken } = await session(baseUrl, person.email);
  const phone = createAuthenticatorClient(await newAppState("Test phone"), fetchTransport(baseUrl));
  const started = await call(baseUrl, "POST", "/v1/me/mfa/push-authenticators", { headers: bearer(accessToken) });
  if (started.status !== 200) throw new Error(`pairing: ${started.status} ${JSON.stringify(started.body)}`);
  await phone.pair(started.body.pairingUri as string);
  const confirmed = await call(baseUrl, "POST", `/v1/me/mfa/push-authenticators/${started.body.pairingId as string}/confirm`, { headers: bearer(accessToken) });
  if (confirmed.status !== 200) throw new Error(`pairing confirm: ${confirmed.status} ${JSON.stringify(confirmed.body)}`);
  return { ...person, phone };
}

/** The claims of a JWT, unverified (tests read the sid of an access token they were just given). */
export function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString("utf8")) as Record<string, unknown>;
}
