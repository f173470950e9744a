// Cookie mode for pages in a browser (x-session-transport: cookie): the refresh
// token lives only in an HttpOnly; Secure; SameSite=Strict __Host- cookie, and a
// cookie-carried refresh or logout needs both an allowed Origin and the custom
// header, so neither a form nor a page on another origin can use the cookie.
import t from "tap";
import type { Test } from "tap";
import type { LightMyRequestResponse } from "fastify";
import { manualClock } from "../helpers/clock.ts";
import type { App } from "../../src/http/app-type.ts";
import { bearer, createUser, startApp, TEST_PASSWORD } from "../helpers/app.ts";
import { enrolledUser, totpAt } from "../helpers/mfa.ts";
import { mandatedPerson } from "../helpers/companies.ts";
import { linkIdentity, providerConfig, providerKey, signAssertion } from "../federated/provider.ts";

const PAGE = "https://books.example.com";
const COOKIE = "__Host-refresh_token";
const clock = manualClock(new Date("2026-11-28T10:00:05Z"));
const bankId = await providerKey("ES256", "es-cookie");
const app: App = await startApp(t, { clock, config: { CORS_ALLOWED_ORIGINS: PAGE, LOGIN_FREE_FAILURES: 100, ...(await providerConfig(t, [bankId])) } });
const cookieMode = { origin: PAGE, "x-session-transport": "cookie" };

/** The refresh cookie an answer sets: its value and attributes. */
function refreshCookie(res: LightMyRequestResponse) {
  const setCookie = [res.headers["set-cookie"] ?? []].flat().find((c) => c.startsWith(`${COOKIE}=`));
  if (!setCookie) return null;
  const [pair, ...attributes] = setCookie.split(";").map((s) => s.trim());
  return { value: pair!.slice(COOKIE.length + 1), attributes: attributes.map((a) => a.toLowerCase()), raw: setCookie };
}

function expectCookieOnly(t: Test, res: LightMyRequestResponse, holder: Record<string, unknown> = res.json()) {
  t.equal(res.statusCode, 200, "answered 200");
  const cookie = refreshCookie(res);
  t.ok(cookie?.value.startsWith("rt_"), "the refresh token is set as the cookie");
  for (const attribute of ["httponly", "secure", "samesite=strict", "path=/"]) t.ok(cookie?.attributes.includes(attribute), `the cookie is ${attribute}`);
  t.notOk(cookie?.attributes.some((a) => a.startsWith("domain=")), "host-only (__Host-)");
  t.notOk("refreshToken" in holder, "the refresh token is left out of the JSON");
  t.ok(typeof holder.accessToken === "string", "the access token stays in the JSON");
  return cookie!.value;
}

const loginWith = (email: string, headers: Record<string, string>, extra: Record<string, unknown> = {}) =>
  app.inject({ method: "POST", url: "/v1/auth/login", headers, payload: { email, password: TEST_PASSWORD, ...extra } });
const refreshWith = (headers: Record<string, string>, payload: Record<string, unknown> = {}) =>
  app.inject({ method: "POST", url: "/v1/auth/refresh", headers, payload });
const withCookie = (token: string, headers: Record<string, string> = cookieMode) => ({ ...headers, cookie: `${COOKIE}=${token}` });

async function cookieSession(t: Test): Promise<string> {
  const user = await createUser(app);
  return expectCookieOnly(t, await loginWith(user.email, cookieMode));
}

t.test("in cookie mode the refresh token is set only as an HttpOnly; Secure; SameSite=Strict __Host- cookie and left out of the JSON", async (t) => {
  const user = await createUser(app);
  expectCookieOnly(t, await loginWith(user.email, cookieMode));
  const json = await loginWith(user.email, {});
  t.ok(json.json().refreshToken, "without the header the token stays in the JSON, for apps and services");
  t.notOk(refreshCookie(json), "and no cookie is set");
});

t.test("a cookie-carried refresh rotates the cookie and answers the access token in the JSON", async (t) => {
  const token = await cookieSession(t);
  const res = await refreshWith(withCookie(token));
  const next = expectCookieOnly(t, res);
  t.not(next, token, "a new refresh token");
  t.equal((await app.inject({ method: "GET", url: "/v1/me", headers: bearer(res.json().accessToken) })).statusCode, 200);
});

t.test("a cookie-carried refresh from an origin not in the allow-list is refused", async (t) => {
  const token = await cookieSession(t);
  for (const origin of ["https://evil.example.net", "null", `${PAGE}.evil.example.net`]) {
    const res = await refreshWith(withCookie(token, { origin, "x-session-transport": "cookie" }));
    t.equal(res.statusCode, 403, origin);
    t.equal(res.json().code, "ORIGIN_NOT_ALLOWED");
    t.notOk(refreshCookie(res), "no cookie is set");
  }
  t.equal((await refreshWith(withCookie(token))).statusCode, 200, "the refused requests did not spend the token");
});

t.test("a cookie-carried refresh without an Origin header is refused", async (t) => {
  const token = await cookieSession(t);
  const res = await refreshWith(withCookie(token, { "x-session-transport": "cookie" }));
  t.equal(res.statusCode, 403);
  t.equal(res.json().code, "ORIGIN_NOT_ALLOWED");
});

t.test("the refresh cookie is not read without the custom header, as from a form", async (t) => {
  const token = await cookieSession(t);
  const res = await refreshWith(withCookie(token, { origin: PAGE }));
  t.equal(res.statusCode, 400, "no refresh token in the body, and the cookie alone counts for nothing");
  t.equal((await refreshWith(withCookie(token))).statusCode, 200, "the token was not spent");
});

t.test("in cookie mode a refresh token in the body is refused: one request, one source", async (t) => {
  const token = await cookieSession(t);
  const res = await refreshWith(cookieMode, { refreshToken: token });
  t.equal(res.statusCode, 400);
  t.equal((await refreshWith(cookieMode)).statusCode, 401, "no cookie: no refresh");
});

t.test("x-session-transport takes only the value cookie", async (t) => {
  const user = await createUser(app);
  const res = await loginWith(user.email, { origin: PAGE, "x-session-transport": "json" });
  t.equal(res.statusCode, 400);
});

t.test("a cookie-mode sign-in from an origin not in the allow-list is refused before the password is checked", async (t) => {
  const user = await createUser(app);
  const res = await loginWith(user.email, { origin: "https://evil.example.net", "x-session-transport": "cookie" });
  t.equal(res.statusCode, 403);
  t.notOk(refreshCookie(res));
});

t.test("cookie-mode logout by the refresh cookie ends the session and clears the cookie", async (t) => {
  const user = await createUser(app);
  const signedIn = await loginWith(user.email, cookieMode);
  const token = expectCookieOnly(t, signedIn);
  const out = await app.inject({ method: "POST", url: "/v1/auth/logout", headers: withCookie(token) });
  t.equal(out.statusCode, 204);
  const cleared = refreshCookie(out);
  t.ok(cleared && (cleared.value === "" || cleared.attributes.some((a) => a === "max-age=0" || a.startsWith("expires=thu, 01 jan 1970"))), "the cookie is cleared");
  t.equal((await refreshWith(withCookie(token))).statusCode, 401, "the refresh token is dead");
  t.equal((await app.inject({ method: "GET", url: "/v1/me", headers: bearer(signedIn.json().accessToken) })).statusCode, 401, "so is its access token");
  const forged = await app.inject({ method: "POST", url: "/v1/auth/logout", headers: withCookie(token, { "x-session-transport": "cookie", origin: "https://evil.example.net" }) });
  t.equal(forged.statusCode, 403, "a page elsewhere cannot sign people out");
  t.equal((await app.inject({ method: "POST", url: "/v1/auth/logout", headers: cookieMode })).statusCode, 401, "no cookie, no bearer: 401");
});

t.test("the second step in cookie mode sets the cookie; a remembered device's token stays in the JSON", async (t) => {
  const user = await enrolledUser(app, clock.now);
  clock.advance(30_000);
  const challenge = (await loginWith(user.email, cookieMode)).json();
  t.equal(challenge.status, "mfa_required");
  const res = await app.inject({
    method: "POST", url: "/v1/auth/mfa/verify", headers: cookieMode,
    payload: { mfaToken: challenge.mfaToken, method: "totp", code: totpAt(user.secret, clock.now()), rememberDevice: true, deviceName: "Browser" },
  });
  expectCookieOnly(t, res);
  t.ok(res.json().deviceToken, "the device token is in the JSON");
  const recovery = (await loginWith(user.email, cookieMode)).json();
  const recovered = await app.inject({
    method: "POST", url: "/v1/auth/mfa/verify", headers: cookieMode, payload: { mfaToken: recovery.mfaToken, method: "recovery_code", code: user.recoveryCodes[0] },
  });
  expectCookieOnly(t, recovered);
  t.ok(recovered.json().recoveryCodes?.length, "the replacement recovery code is in the JSON");
});

t.test("enrollment confirmation with an enrollment token in cookie mode sets the cookie", async (t) => {
  const who = await mandatedPerson(app, "Cookie Mandate AB");
  const answer = (await loginWith(who.email, cookieMode)).json();
  t.equal(answer.status, "mfa_enrollment_required");
  const start = await app.inject({ method: "POST", url: "/v1/me/mfa/totp", headers: { ...cookieMode, ...bearer(answer.enrollmentToken) } });
  const secret = new URL(start.json().otpauthUri).searchParams.get("secret")!;
  clock.advance(30_000);
  const confirm = await app.inject({
    method: "POST", url: "/v1/me/mfa/totp/confirm", headers: { ...cookieMode, ...bearer(answer.enrollmentToken) }, payload: { code: totpAt(secret, clock.now()) },
  });
  expectCookieOnly(t, confirm, confirm.json().session);
  t.ok(confirm.json().recoveryCodes.length > 0, "the recovery code is shown");
});

t.test("federated sign-in in cookie mode sets the cookie", async (t) => {
  const user = await createUser(app);
  await linkIdentity(app, user.id, `bankid-${user.id}`);
  const res = await app.inject({
    method: "POST", url: "/v1/auth/federated", headers: cookieMode, payload: { assertion: await signAssertion(bankId, `bankid-${user.id}`, clock) },
  });
  expectCookieOnly(t, res);
});
