// "Remember this device for 30 days" (checklist DT-02..DT-07, DT-09; PRODUCT:
// device tokens signed, typed, bound to the user and a server-side record, 30 days
// absolute, revocable). Anything wrong with a device token only means the second
// step is asked: never an error. The last test moves the clock by 30 days.
import t from "tap";
import { randomUUID } from "node:crypto";
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from "jose";
import { manualClock } from "../helpers/clock.ts";
import type { App } from "../../src/http/app-type.ts";
import { bearer, createApiKey, login, startApp, TEST_PASSWORD } from "../helpers/app.ts";
import { enrolledUser, mfaToken, totpAt, verify } from "../helpers/mfa.ts";

const DAY = 86_400_000;
const TTL_SECONDS = 30 * 86_400;
const ISSUER = "http://127.0.0.1:3000"; // the config default

const clock = manualClock(new Date("2026-11-28T10:00:05Z"));
const app: App = await startApp(t, { clock });

type User = Awaited<ReturnType<typeof enrolledUser>>;

/** Signs in with TOTP and asks to remember the device; returns the session and the device token. */
async function remember(user: User, deviceName = "Work laptop") {
  clock.advance(30_000);
  const res = await verify(app, {
    mfaToken: await mfaToken(app, user.email), method: "totp", code: totpAt(user.secret, clock.now()), rememberDevice: true, deviceName,
  });
  if (res.statusCode !== 200) throw new Error(`remember: ${res.statusCode} ${res.body}`);
  return res.json() as { accessToken: string; refreshToken: string; deviceToken: string };
}

const loginWith = (user: { email: string }, deviceToken: string, password = TEST_PASSWORD) => login(app, user.email, password, { deviceToken });
const statusWith = async (user: { email: string }, deviceToken: string, password = TEST_PASSWORD) =>
  (await loginWith(user, deviceToken, password)).json().status as string;
const devices = (accessToken: string) => app.inject({ method: "GET", url: "/v1/me/devices", headers: bearer(accessToken) });

t.test("a device token is a JWT of its own profile: typ, audience, key, subject, a server-side device record and 30 days", async (t) => {
  const user = await enrolledUser(app, clock.now);
  clock.advance(30_000);
  const plain = await verify(app, { mfaToken: await mfaToken(app, user.email), method: "totp", code: totpAt(user.secret, clock.now()) });
  t.notOk(plain.json().deviceToken, "no device token unless asked (DT-02)");

  const { deviceToken, accessToken } = await remember(user);
  const header = decodeProtectedHeader(deviceToken);
  t.equal(header.typ, "device+jwt");
  t.equal(header.alg, "EdDSA");
  t.match(header.kid, /^device-/);
  t.not(header.kid, decodeProtectedHeader(accessToken).kid, "its own signing key, not the access tokens'");
  const jwks = (await app.inject({ method: "GET", url: "/.well-known/jwks.json" })).json() as JSONWebKeySet;
  t.ok(jwks.keys.some((k) => k.kid === header.kid), "its kid is published in the JWKS");

  const { payload } = await jwtVerify(deviceToken, createLocalJWKSet(jwks), {
    typ: "device+jwt", issuer: ISSUER, audience: "trusted-device", currentDate: clock.now(),
  });
  t.equal(payload.sub, user.id);
  t.not(payload.aud, decodeJwt(accessToken).aud, "an audience of its own");
  t.equal(payload.exp! - payload.iat!, TTL_SECONDS, "30 days");
  t.ok(typeof payload.jti === "string" && Buffer.from(payload.jti, "base64url").length >= 16, "a 128-bit jti");
  const listed = (await devices(accessToken)).json().devices;
  t.equal(listed.length, 1);
  t.equal(payload.did, listed[0].id, "names the server-side record");
});

t.test("a valid device token of the same user skips the second step with amr [pwd, dt], but never the password", async (t) => {
  const user = await enrolledUser(app, clock.now);
  const { deviceToken } = await remember(user);
  const res = await loginWith(user, deviceToken);
  t.equal(res.json().status, "authenticated");
  t.same(decodeJwt(res.json().accessToken).amr, ["pwd", "dt"]);
  t.notOk(res.json().deviceToken, "no new device token: the old one is not extended");

  const wrongPassword = await loginWith(user, deviceToken, "not the right password at all");
  t.equal(wrongPassword.statusCode, 401, "a device token is no substitute for the password (DT-04)");
  t.equal(wrongPassword.json().code, "INVALID_CREDENTIALS");
});

t.test("a tampered, forged, foreign or mistyped device token is ignored: the second step is asked, never an error", async (t) => {
  const alice = await enrolledUser(app, clock.now);
  const bob = await enrolledUser(app, clock.now);
  const aliceSession = await remember(alice);
  const { deviceToken: bobsToken } = await remember(bob);
  const [head, body, signature] = aliceSession.deviceToken.split(".") as [string, string, string];
  const claims = JSON.parse(Buffer.from(body, "base64url").toString());
  const reencode = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const flipped = signature.slice(0, 10) + (signature[10] === "A" ? "B" : "A") + signature.slice(11);

  const candidates: [string, string][] = [
    ["a flipped signature bit", `${head}.${body}.${flipped}`],
    ["a payload naming another device", `${head}.${reencode({ ...claims, did: randomUUID() })}.${signature}`],
    ["a payload with a later exp", `${head}.${reencode({ ...claims, exp: claims.exp + 86_400 })}.${signature}`],
    ["alg none", `${reencode({ alg: "none", typ: "device+jwt" })}.${body}.`],
    ["garbage", "not-a-token"],
    ["another user's device token", bobsToken],
    ["an access token", aliceSession.accessToken],
    ["a refresh token", aliceSession.refreshToken],
  ];
  for (const [label, deviceToken] of candidates) {
    const res = await loginWith(alice, deviceToken);
    t.equal(res.statusCode, 200, `${label}: 200`);
    t.equal(res.json().status, "mfa_required", `${label}: second step asked`);
  }
  t.equal(await statusWith(alice, aliceSession.deviceToken), "authenticated", "the genuine token still works");
});

t.test("a device token is never a bearer or refresh token", async (t) => {
  const user = await enrolledUser(app, clock.now);
  const { deviceToken } = await remember(user);
  const asBearer = await app.inject({ method: "GET", url: "/v1/me", headers: bearer(deviceToken) });
  t.equal(asBearer.statusCode, 401);
  t.equal(asBearer.json().code, "UNAUTHENTICATED");
  t.equal((await devices(deviceToken)).statusCode, 401);
  const asRefresh = await app.inject({ method: "POST", url: "/v1/auth/refresh", payload: { refreshToken: deviceToken } });
  t.equal(asRefresh.statusCode >= 400 && asRefresh.statusCode < 500, true, `refused as a refresh token (${asRefresh.statusCode})`);
  const asMfa = await verify(app, { mfaToken: deviceToken, method: "totp", code: totpAt(user.secret, clock.now(), 1) });
  t.ok([400, 401].includes(asMfa.statusCode), `refused as an MFA token (${asMfa.statusCode})`);
});

t.test("GET /v1/me/devices lists id, name, createdAt, lastUsedAt and expiresAt; another user's device id is 404", async (t) => {
  const user = await enrolledUser(app, clock.now);
  const other = await enrolledUser(app, clock.now);
  const { accessToken, deviceToken } = await remember(user, "Work laptop");
  const issuedAt = clock.now();
  const otherSession = await remember(other, "Other phone");

  const [device] = (await devices(accessToken)).json().devices;
  t.same(Object.keys(device).sort(), ["createdAt", "expiresAt", "id", "lastUsedAt", "name"]);
  t.equal(device.name, "Work laptop");
  t.equal(device.lastUsedAt, null, "not used yet");
  t.equal(Date.parse(device.expiresAt) - Date.parse(device.createdAt), TTL_SECONDS * 1000);

  clock.advance(60_000);
  await loginWith(user, deviceToken);
  const [used] = (await devices(accessToken)).json().devices;
  t.equal(used.lastUsedAt, clock.now().toISOString(), "lastUsedAt is the sign-in's time");
  t.equal(used.expiresAt, new Date(issuedAt.getTime() + TTL_SECONDS * 1000).toISOString(), "expiry unchanged by use");

  const [othersDevice] = (await devices(otherSession.accessToken)).json().devices;
  t.notOk((await devices(accessToken)).json().devices.some((d: { id: string }) => d.id === othersDevice.id), "only one's own devices are listed");
  const foreign = await app.inject({ method: "DELETE", url: `/v1/me/devices/${othersDevice.id}`, headers: bearer(accessToken) });
  t.equal(foreign.statusCode, 404, "another user's device is not found, not revoked");
  t.equal(await statusWith(other, otherSession.deviceToken), "authenticated", "and keeps working for its owner");
  t.equal((await app.inject({ method: "DELETE", url: `/v1/me/devices/${randomUUID()}`, headers: bearer(accessToken) })).statusCode, 404);
  t.equal((await app.inject({ method: "DELETE", url: "/v1/me/devices/not-a-uuid", headers: bearer(accessToken) })).statusCode, 400);
});

t.test("revoking one device, or all of them, makes their tokens ask for the second step", async (t) => {
  const user = await enrolledUser(app, clock.now);
  const first = await remember(user, "Laptop");
  const second = await remember(user, "Phone");
  const third = await remember(user, "Tablet");
  const listed = (await devices(first.accessToken)).json().devices as { id: string; name: string }[];
  t.same(listed.map((d) => d.name).sort(), ["Laptop", "Phone", "Tablet"]);
  const laptop = listed.find((d) => d.name === "Laptop")!;

  const one = await app.inject({ method: "DELETE", url: `/v1/me/devices/${laptop.id}`, headers: bearer(first.accessToken) });
  t.equal(one.statusCode, 204);
  t.equal(await statusWith(user, first.deviceToken), "mfa_required", "the revoked device asks for the second step");
  t.equal(await statusWith(user, second.deviceToken), "authenticated", "the others still skip it");
  const again = await app.inject({ method: "DELETE", url: `/v1/me/devices/${laptop.id}`, headers: bearer(first.accessToken) });
  t.equal(again.statusCode, 404, "a revoked device is gone");

  const all = await app.inject({ method: "DELETE", url: "/v1/me/devices", headers: bearer(first.accessToken) });
  t.equal(all.statusCode, 204);
  t.equal(await statusWith(user, second.deviceToken), "mfa_required");
  t.equal(await statusWith(user, third.deviceToken), "mfa_required");
  t.same((await devices(first.accessToken)).json().devices, []);
});

t.test("changing the password revokes every trusted device", async (t) => {
  const user = await enrolledUser(app, clock.now);
  const session = await remember(user);
  const newPassword = "a brand new passphrase for this test";
  const changed = await app.inject({
    method: "POST", url: "/v1/me/password", headers: bearer(session.accessToken), payload: { currentPassword: TEST_PASSWORD, newPassword },
  });
  t.equal(changed.statusCode, 204, changed.body);
  t.equal(await statusWith(user, session.deviceToken, newPassword), "mfa_required");
});

t.test("turning TOTP off revokes every trusted device", async (t) => {
  const user = await enrolledUser(app, clock.now);
  const session = await remember(user);
  clock.advance(30_000);
  const off = await app.inject({
    method: "DELETE", url: "/v1/me/mfa/totp", headers: bearer(session.accessToken), payload: { password: TEST_PASSWORD, code: totpAt(user.secret, clock.now()) },
  });
  t.equal(off.statusCode, 204, off.body);
  const secret = await reenroll(user.email);
  t.ok(secret);
  t.equal(await statusWith(user, session.deviceToken), "mfa_required", "after turning 2SV on again, the old device does not skip it");
});

t.test("re-enrolling TOTP revokes every trusted device", async (t) => {
  const user = await enrolledUser(app, clock.now);
  const session = await remember(user);
  const started = await app.inject({ method: "POST", url: "/v1/me/mfa/totp", headers: bearer(session.accessToken) });
  const secret = new URL(started.json().otpauthUri).searchParams.get("secret")!;
  const confirmed = await app.inject({
    method: "POST", url: "/v1/me/mfa/totp/confirm", headers: bearer(session.accessToken), payload: { code: totpAt(secret, clock.now()) },
  });
  t.equal(confirmed.statusCode, 200, confirmed.body);
  t.equal(await statusWith(user, session.deviceToken), "mfa_required");
});

t.test("a support reset revokes every trusted device", async (t) => {
  const user = await enrolledUser(app, clock.now);
  const session = await remember(user);
  const apiKey = await createApiKey(app, ["users:mfa-reset"]);
  const reset = await app.inject({ method: "DELETE", url: `/v1/users/${user.id}/mfa`, headers: { "x-api-key": apiKey } });
  t.equal(reset.statusCode, 204);
  await reenroll(user.email);
  t.equal(await statusWith(user, session.deviceToken), "mfa_required");
});

t.test("the 30 days are absolute: use on day 29 does not extend them", async (t) => {
  const user = await enrolledUser(app, clock.now);
  const session = await remember(user);
  const issued = clock.now().getTime();
  const [before] = (await devices(session.accessToken)).json().devices;

  clock.set(new Date(issued + 29 * DAY));
  const day29 = await loginWith(user, session.deviceToken);
  t.equal(day29.json().status, "authenticated", "day 29: still trusted");
  const [after] = (await devices(day29.json().accessToken)).json().devices;
  t.equal(after.expiresAt, before.expiresAt, "the expiry did not move");
  t.equal(after.lastUsedAt, clock.now().toISOString());

  clock.set(new Date(issued + 30 * DAY - 1000));
  t.equal(await statusWith(user, session.deviceToken), "authenticated", "one second before 30 days: still trusted");
  clock.set(new Date(issued + 30 * DAY + 1000));
  t.equal(await statusWith(user, session.deviceToken), "mfa_required", "30 days and a second: the second step again");
});

/** After 2SV was turned off or reset: a fresh password session sets up TOTP again. */
async function reenroll(email: string): Promise<string> {
  const session = (await login(app, email)).json();
  if (session.status !== "authenticated") throw new Error(`expected no second step, got ${JSON.stringify(session)}`);
  const started = await app.inject({ method: "POST", url: "/v1/me/mfa/totp", headers: bearer(session.accessToken) });
  const secret = new URL(started.json().otpauthUri).searchParams.get("secret")!;
  const confirmed = await app.inject({
    method: "POST", url: "/v1/me/mfa/totp/confirm", headers: bearer(session.accessToken), payload: { code: totpAt(secret, clock.now()) },
  });
  if (confirmed.statusCode !== 200) throw new Error(`re-enroll: ${confirmed.statusCode} ${confirmed.body}`);
  return secret;
}
