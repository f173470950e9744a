// Push approval through the reference authenticator app's own client code
// (src/authenticator-app/client.ts), over app.inject.
import type { PushAddress } from "../../src/push/delivery/sender.ts";
import type { App } from "../../src/http/app-type.ts";
import { createAuthenticatorClient, newAppState, ServiceError, type Transport } from "../../src/authenticator-app/client.ts";
import { bearer, createUser, login } from "./app.ts";

export function injectTransport(app: App): Transport {
  return async ({ method, path, headers, body }) => {
    const res = await app.inject({ method, url: path, headers, ...(body === undefined ? {} : { payload: body as object }) });
    return { status: res.statusCode, body: res.body ? res.json() : null };
  };
}

export async function newApp(app: App, name = "Test phone", now?: () => Date) {
  return createAuthenticatorClient(await newAppState(name), injectTransport(app), now);
}

/** A person with a paired, confirmed app and no other factor; returns the app and the recovery code. */
export async function personWithPushApp(app: App, now?: () => Date, pushAddress?: PushAddress) {
  const user = await createUser(app);
  const session = (await login(app, user.email)).json();
  const phone = await newApp(app, "Test phone", now);
  const started = await app.inject({ method: "POST", url: "/v1/me/mfa/push-authenticators", headers: bearer(session.accessToken) });
  if (started.statusCode !== 200) throw new Error(`pairing start: ${started.body}`);
  await phone.pair(started.json().pairingUri, { pushAddress });
  const confirmed = await app.inject({ method: "POST", url: `/v1/me/mfa/push-authenticators/${started.json().pairingId}/confirm`, headers: bearer(session.accessToken) });
  if (confirmed.statusCode !== 200) throw new Error(`pairing confirm: ${confirmed.body}`);
  return { user, phone, accessToken: session.accessToken as string, pairingId: started.json().pairingId as string, recoveryCodes: confirmed.json().recoveryCodes as string[] };
}

export async function startPush(app: App, email: string, extra: Record<string, unknown> = {}) {
  const mfa = (await login(app, email)).json();
  if (mfa.status !== "mfa_required") throw new Error(`expected mfa_required: ${JSON.stringify(mfa)}`);
  const res = await app.inject({ method: "POST", url: "/v1/auth/mfa/push", payload: { mfaToken: mfa.mfaToken, ...extra } });
  return { mfaToken: mfa.mfaToken as string, methods: mfa.methods as string[], res };
}

export const poll = (app: App, challengeId: string, mfaToken: string, waitSeconds = 0) =>
  app.inject({ method: "GET", url: `/v1/auth/mfa/push/${challengeId}?waitSeconds=${waitSeconds}`, headers: bearer(mfaToken) });

/** The status the service refused a client call with (the test fails if it was accepted). */
export async function refusal(call: Promise<unknown>): Promise<number> {
  try {
    await call;
  } catch (error) {
    if (error instanceof ServiceError) return error.status;
    throw error;
  }
  return 200;
}
