// The push round trip (issue: push approval): 50 people sign in at once and each
// approves on their phone. Per round: POST /v1/auth/mfa/push → the app lists its
// challenge and answers with the number (a JWS by its key) → the sign-in page's
// long poll returns the session. The latency reported is that whole round, the
// server's added latency after the password; the password logins that make the
// MFA tokens happen before the measured window (they are argon2's, not push's).
import { createAuthenticatorClient, fetchTransport, newAppState } from "../src/authenticator-app/client.ts";
import type { BenchContext, HttpFigures, Scenario } from "./context.ts";
import { mapLimit, postJson } from "./seed.ts";

const ROUNDS_PER_PERSON = 6;

type Phone = ReturnType<typeof createAuthenticatorClient>;
interface Person { email: string; password: string; phone: Phone; mfaTokens: string[] }

async function json(res: Response) {
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A paired, confirmed app for the person (their first factor). */
async function pairPhone(ctx: BenchContext, email: string, password: string): Promise<Phone> {
  const login = await postJson(`${ctx.baseUrl}/v1/auth/login`, { email, password });
  const accessToken = (login.json as { accessToken: string }).accessToken;
  const auth = { authorization: `Bearer ${accessToken}` };
  const started = (await postJson(`${ctx.baseUrl}/v1/me/mfa/push-authenticators`, {}, auth)).json as { pairingId: string; pairingUri: string };
  const phone = createAuthenticatorClient(await newAppState("Bench phone"), fetchTransport(ctx.baseUrl));
  await phone.pair(started.pairingUri);
  const confirmed = await postJson(`${ctx.baseUrl}/v1/me/mfa/push-authenticators/${started.pairingId}/confirm`, {}, auth);
  if (confirmed.status !== 200) throw new Error(`pairing confirm: ${confirmed.status} ${JSON.stringify(confirmed.json)}`);
  return phone;
}

async function mfaToken(ctx: BenchContext, person: { email: string; password: string }): Promise<string> {
  const res = await postJson(`${ctx.baseUrl}/v1/auth/login`, { email: person.email, password: person.password });
  const body = res.json as { status?: string; mfaToken?: string };
  if (body.status !== "mfa_required" || !body.mfaToken) throw new Error(`expected mfa_required: ${res.status} ${JSON.stringify(body)}`);
  return body.mfaToken;
}

/** One round; the milliseconds it took, or the reason it failed. */
async function round(ctx: BenchContext, person: Person, token: string): Promise<number | string> {
  const started = performance.now();
  const push = await json(await fetch(`${ctx.baseUrl}/v1/auth/mfa/push`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ mfaToken: token }),
  }));
  if (push.status !== 200) return `push ${push.status} ${JSON.stringify(push.body)}`;
  const pending = (await person.phone.pending(0)).find((c) => c.id === push.body.challengeId);
  if (!pending) return "the app did not see its challenge";
  const answered = await person.phone.answer(pending, "approve", { number: String(push.body.numberToMatch) });
  if (answered.status !== "approved") return `answer ${JSON.stringify(answered)}`;
  const collected = await json(await fetch(`${ctx.baseUrl}/v1/auth/mfa/push/${String(push.body.challengeId)}?waitSeconds=5`, {
    headers: { authorization: `Bearer ${token}` },
  }));
  if (collected.body.status !== "authenticated") return `collect ${collected.status} ${JSON.stringify(collected.body)}`;
  return performance.now() - started;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

export function pushRoundTrip(people: number): Scenario {
  let persons: Person[] = [];
  return {
    name: `push-round-trip-c${people}`,
    title: `push round trip (start → app answer → long poll), ${people} people at once`,
    kind: "http",
    concurrency: people,
    async prepare(ctx) {
      const chosen = ctx.users.slice(-people);
      if (chosen.length < people) throw new Error(`push-round-trip needs ${people} seeded users`);
      const phones = await mapLimit(chosen, 8, (u) => pairPhone(ctx, u.email, u.password));
      persons = chosen.map((u, i) => ({ ...u, phone: phones[i]!, mfaTokens: [] }));
      await mapLimit(persons.flatMap((p) => Array.from({ length: ROUNDS_PER_PERSON }, () => p)), 8, async (p) => { p.mfaTokens.push(await mfaToken(ctx, p)); });
    },
    async run(ctx) {
      const latencies: number[] = [];
      const failures: string[] = [];
      const { value: seconds, usage } = await ctx.measure(async () => {
        const t0 = performance.now();
        await Promise.all(persons.map(async (person) => {
          for (const token of person.mfaTokens.splice(0)) {
            const outcome = await round(ctx, person, token);
            if (typeof outcome === "number") latencies.push(outcome);
            else failures.push(outcome);
          }
        }));
        return (performance.now() - t0) / 1000;
      });
      const sorted = [...latencies].sort((a, b) => a - b);
      const figures: HttpFigures = {
        durationSeconds: seconds,
        requests: latencies.length,
        rps: latencies.length / seconds,
        latencyMs: {
          p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99),
          max: sorted.at(-1) ?? 0, mean: sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length),
        },
        statusCodes: { 200: latencies.length },
        non2xx: failures.length,
        non200: failures.length,
        badBodies: 0,
        errors: 0,
        timeouts: 0,
        failureSamples: failures.slice(0, 3),
      };
      return {
        name: this.name, title: this.title, kind: this.kind, concurrency: people, figures, usage, warmupFailures: 0,
        notes: [`${latencies.length} rounds (${ROUNDS_PER_PERSON} per person); rps = approved sign-ins per second; latency = one whole round (4 HTTP requests, 2 JWS by the app)`],
      };
    },
  };
}
