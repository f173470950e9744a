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
/** A code for T − 1 is sent only while this much of step T is left, so it is still acceptable when the server reads it. */
const STEP_MARGIN_MS = 5_000;

/**
 * The second step with TOTP, every answer a session. Each request needs a live MFA token (seeded)
 * and a code for a step the user has not used yet: the server accepts steps T − 1..T + 1 above the
 * last one it accepted, so each user's steps go up by one per request, one request at a time.
 */
const secondStep: Scenario = {
  name: "mfa-verify",
  ceiling: "query",
  load(target) {
    const users: MfaUser[] = target.seeded.mfa.map((u) => ({ ...u, next: 0, nextStep: Number.NEGATIVE_INFINITY, inFlight: false }));
    let at = 0;
    let dry = 0;
    const pick = (): MfaUser | null => {
      const now = Date.now();
      const step = Math.floor(now / STEP_MS);
      const lowest = (step + 1) * STEP_MS - now >= STEP_MARGIN_MS ? step - 1 : step;
      for (let tries = 0; tries < users.length; tries++) {
        const user = users[at]!;
        at = (at + 1) % users.length;
        if (user.inFlight || user.next >= user.tokens.length || Math.max(user.nextStep, lowest) > step + 1) continue;
        user.nextStep = Math.max(user.nextStep, lowest) + 1;
        return user;
      }
      return null;
    };
    return {
      method: "POST", path: "/v1/auth/mfa/verify", headers: JSON_HEADERS,
      next(context) {
        const user = pick();
        context.user = user;
        if (!user) { dry++; return { body: JSON.stringify({ mfaToken: "mfa_pool_ran_dry", method: "totp", code: "000000" }) }; }
        user.inFlight = true;
        return { body: JSON.stringify({ mfaToken: user.tokens[user.next++], method: "totp", code: totpAt(user.secret, new Date((user.nextStep - 1) * STEP_MS)) }) };
      },
      onResponse: (_status, _body, context) => { if (context.user) (context.user as MfaUser).inFlight = false; },
      ok: (b) => b.includes('"status":"authenticated"'),
      notes: () => {
        const left = users.reduce((n, u) => n + u.tokens.length - u.next, 0);
        return [`${users.length} users with TOTP, ${left} MFA tokens unused`, ...(dry > 0 ? [`LOUD: the token pool ran dry ${dry} times (those requests failed): seed more with --mfa-users`] : [])];
      },
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
