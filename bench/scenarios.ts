// The hot routes, as autocannon loads against one running service. Each names the ceiling it is
// read against: raw argon2id verify/s for sign-in, the bare Fastify route with one query for the rest.
import { totpAt } from "../test/helpers/mfa.ts";
import type { LoadSpec } from "./load.ts";
import type { Seeded } from "./seed.ts";

export interface Target {
  baseUrl: string;
  seeded: Seeded;
  password: string;
  /** Access tokens of sessions made by password sign-ins after the server started. */
  accessTokens: string[];
}

export interface Scenario {
  name: string;
  ceiling: "argon2" | "query";
  /** Built once per target; the load runs the warm-up and every repetition. */
  load(target: Target): Omit<LoadSpec, "baseUrl" | "connections" | "seconds"> & { notes?: () => string[] };
}

const JSON_HEADERS = { "content-type": "application/json" };
const roundRobin = <T>(items: T[]) => { let i = 0; return () => items[i++ % items.length]!; };

/** Password sign-in of users without 2SV, round-robin over more accounts than connections (no account signs in twice at once). */
const signIn: Scenario = {
  name: "login",
  ceiling: "argon2",
  load(target) {
    const body = roundRobin(target.seeded.plain.map((email) => JSON.stringify({ email, password: target.password })));
    return { method: "POST", path: "/v1/auth/login", headers: JSON_HEADERS, next: () => ({ body: body() }), ok: (b) => b.includes('"status":"authenticated"') };
  },
};

interface MfaUser { secret: string; tokens: string[]; next: number; nextStep: number; inFlight: boolean }
const STEP_MS = 30_000;
/** A code for T − 1 is sent only while this much of step T is left (autocannon's request timeout: a slower answer is a counted timeout anyway), so it is still acceptable when the server reads it. */
const STEP_MARGIN_MS = 10_000;

export interface SecondStepPick { mfaToken: string; code: string; step: number; done(): void }

/**
 * The order of (MFA token, code) pairs. The server accepts a user's code for steps T − 1..T + 1
 * above the last step it accepted, and each MFA token once; so a user's steps rise by one per
 * request, a user has at most one request on the wire (a later step could overtake an earlier one),
 * and users take turns. Null when no user has a token and an acceptable step left now.
 */
export function secondStepOrder(seeded: readonly { secret: string; tokens: string[] }[], now: () => number = Date.now) {
  const users: MfaUser[] = seeded.map((u) => ({ ...u, next: 0, nextStep: Number.NEGATIVE_INFINITY, inFlight: false }));
  let at = 0;
  return {
    next(): SecondStepPick | null {
      const time = now();
      const step = Math.floor(time / STEP_MS);
      const lowest = (step + 1) * STEP_MS - time >= STEP_MARGIN_MS ? step - 1 : step;
      for (let tries = 0; tries < users.length; tries++) {
        const user = users[at]!;
        at = (at + 1) % users.length;
        const chosen = Math.max(user.nextStep, lowest);
        if (user.inFlight || user.next >= user.tokens.length || chosen > step + 1) continue;
        user.nextStep = chosen + 1;
        user.inFlight = true;
        return { mfaToken: user.tokens[user.next++]!, code: totpAt(user.secret, new Date(chosen * STEP_MS)), step: chosen, done: () => { user.inFlight = false; } };
      }
      return null;
    },
    unused: () => users.reduce((n, u) => n + u.tokens.length - u.next, 0),
  };
}

/** The second step with TOTP, every answer a session, from the seeded MFA tokens. */
const secondStep: Scenario = {
  name: "mfa-verify",
  ceiling: "query",
  load(target) {
    const order = secondStepOrder(target.seeded.mfa);
    let dry = 0;
    return {
      method: "POST", path: "/v1/auth/mfa/verify", headers: JSON_HEADERS,
      next(context) {
        const pick = order.next();
        context.pick = pick;
        if (!pick) dry++;
        return { body: JSON.stringify(pick ? { mfaToken: pick.mfaToken, method: "totp", code: pick.code } : { mfaToken: "mfa_pool_ran_dry", method: "totp", code: "000000" }) };
      },
      onResponse: (_status, _body, context) => (context.pick as SecondStepPick | null)?.done(),
      ok: (b) => b.includes('"status":"authenticated"'),
      notes: () => [
        `${target.seeded.mfa.length} users with TOTP, ${order.unused()} MFA tokens unused`,
        ...(dry > 0 ? [`LOUD: the token pool ran dry ${dry} times (those requests failed): seed more with --mfa-users`] : []),
      ],
    };
  },
};

const introspection: Scenario = {
  name: "introspect",
  ceiling: "query",
  load(target) {
    const body = roundRobin(target.accessTokens.map((token) => JSON.stringify({ token })));
    return {
      method: "POST", path: "/v1/tokens/introspect", headers: { ...JSON_HEADERS, "x-api-key": target.seeded.apiKey },
      next: () => ({ body: body() }), ok: (b) => b.includes('"active":true'),
    };
  },
};

const me: Scenario = {
  name: "me",
  ceiling: "query",
  load(target) {
    const header = roundRobin(target.accessTokens.map((token) => ({ authorization: `Bearer ${token}` })));
    return { method: "GET", path: "/v1/me", next: () => ({ headers: header() }), ok: (b) => b.includes('"email":') };
  },
};

/** In running order: the second step first, while its seeded MFA tokens are freshest. */
export const scenarios: Scenario[] = [secondStep, signIn, introspection, me];
