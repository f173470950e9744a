// The push round trip: 50 people sign in at once and each approves on their phone. Per round:
// POST /v1/auth/mfa/push → the reference app lists its challenge and answers with the number (a
// JWS by its key) → the sign-in page's long poll returns the session. The latency is that whole
// round; the password sign-ins that make the MFA tokens happen before the measured window.
import { createAuthenticatorClient, fetchTransport, newAppState } from "../src/authenticator-app/client.ts";
import type { LoadFigures } from "./load.ts";
import { mapLimit } from "./seed.ts";

const ROUNDS_PER_PERSON = 6;
export const PUSH_PEOPLE = 50;

type Phone = ReturnType<typeof createAuthenticatorClient>;
interface Person { phone: Phone; mfaTokens: string[] }

async function call(url: string, init: { body?: unknown; headers?: Record<string, string> } = {}) {
  const res = await fetch(url, init.body === undefined ? { headers: init.headers } : {
    method: "POST", headers: { "content-type": "application/json", ...init.headers }, body: JSON.stringify(init.body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A paired, confirmed app for the person (their first factor), then ROUNDS_PER_PERSON MFA tokens from password sign-ins. */
async function preparePerson(baseUrl: string, email: string, password: string): Promise<Person> {
  const login = await call(`${baseUrl}/v1/auth/login`, { body: { email, password } });
  const auth = { authorization: `Bearer ${String(login.body.accessToken)}` };
  const started = (await call(`${baseUrl}/v1/me/mfa/push-authenticators`, { body: {}, headers: auth })).body as { pairingId: string; pairingUri: string };
  const phone = createAuthenticatorClient(await newAppState("Bench phone"), fetchTransport(baseUrl));
  await phone.pair(started.pairingUri);
  const confirmed = await call(`${baseUrl}/v1/me/mfa/push-authenticators/${started.pairingId}/confirm`, { body: {}, headers: auth });
  if (confirmed.status !== 200) throw new Error(`pairing confirm: ${confirmed.status} ${JSON.stringify(confirmed.body)}`);
  const mfaTokens: string[] = [];
  for (let i = 0; i < ROUNDS_PER_PERSON; i++) {
    const res = await call(`${baseUrl}/v1/auth/login`, { body: { email, password } });
    if (res.body.status !== "mfa_required") throw new Error(`expected mfa_required: ${res.status} ${JSON.stringify(res.body)}`);
    mfaTokens.push(String(res.body.mfaToken));
  }
  return { phone, mfaTokens };
}

export const preparePush = (baseUrl: string, emails: string[], password: string) => mapLimit(emails, 8, (email) => preparePerson(baseUrl, email, password));

/** One round; the milliseconds it took, or the reason it failed. */
async function round(baseUrl: string, person: Person, token: string): Promise<number | string> {
  const started = performance.now();
  const push = await call(`${baseUrl}/v1/auth/mfa/push`, { body: { mfaToken: token } });
  if (push.status !== 200) return `push ${push.status} ${JSON.stringify(push.body)}`;
  const pending = (await person.phone.pending(0)).find((c) => c.id === push.body.challengeId);
  if (!pending) return "the app did not see its challenge";
  const answered = await person.phone.answer(pending, "approve", { number: String(push.body.numberToMatch) });
  if (answered.status !== "approved") return `answer ${JSON.stringify(answered)}`;
  const collected = await call(`${baseUrl}/v1/auth/mfa/push/${String(push.body.challengeId)}?waitSeconds=5`, { headers: { authorization: `Bearer ${token}` } });
  if (collected.body.status !== "authenticated") return `collect ${collected.status} ${JSON.stringify(collected.body)}`;
  return performance.now() - started;
}

/** Every person runs their rounds one after another, all people at once; ok = approved sign-ins. */
export async function runPush(baseUrl: string, persons: Person[]): Promise<LoadFigures> {
  const latencies: number[] = [];
  const failures: string[] = [];
  const t0 = performance.now();
  await Promise.all(persons.map(async (person) => {
    for (const token of person.mfaTokens.splice(0)) {
      const outcome = await round(baseUrl, person, token);
      if (typeof outcome === "number") latencies.push(outcome);
      else failures.push(outcome);
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  return {
    ok: latencies.length, okPerSecond: latencies.length / seconds, answers: latencies.length + failures.length, statusCodes: {},
    errors: failures.length, timeouts: 0, p50Ms: at(0.5), p99Ms: at(0.99), notOkSamples: failures.slice(0, 3),
  };
}
