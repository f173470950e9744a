// Token introspection for service clients (RFC 7662; API.md: scope
// tokens:introspect, revocation-aware).
import t from "tap";
import type { Test } from "tap";
import { randomBytes } from "node:crypto";
import { decodeJwt } from "jose";
import { createClientService } from "../../src/clients/service.ts";
import { createClientRepository } from "../../src/clients/repository.ts";
import { manualClock } from "../helpers/clock.ts";
import type { App } from "../../src/http/app-type.ts";
import { bearer, createApiKey, createUser, login, startApp } from "../helpers/app.ts";

const clock = manualClock();
const app: App = await startApp(t, { clock });
const introspector = await createApiKey(app, ["tokens:introspect"]);

async function signIn() {
  const user = await createUser(app, `i-${randomBytes(4).toString("hex")}@example.com`);
  const res = await login(app, user.email);
  return { userId: user.id, ...(res.json() as { accessToken: string; refreshToken: string }) };
}

const introspect = (token: string, headers: Record<string, string> = { "x-api-key": introspector }) =>
  app.inject({ method: "POST", url: "/v1/tokens/introspect", headers, payload: { token } });

async function expectInactive(t: Test, token: string, message: string) {
  const res = await introspect(token);
  t.equal(res.statusCode, 200, message);
  t.same(res.json(), { active: false }, `${message}: only active:false`);
}

t.test("introspection needs an API key with the tokens:introspect scope", async (t) => {
  const { accessToken } = await signIn();
  const missing = await introspect(accessToken, {});
  t.equal(missing.statusCode, 401);
  t.equal(missing.json().code, "INVALID_CLIENT");
  const wrong = await introspect(accessToken, { "x-api-key": `isk_${randomBytes(32).toString("base64url")}` });
  t.equal(wrong.statusCode, 401);
  t.equal(wrong.json().code, "INVALID_CLIENT");
  const unscoped = await introspect(accessToken, { "x-api-key": await createApiKey(app, ["users:write", "users:read"]) });
  t.equal(unscoped.statusCode, 403);
  t.equal(unscoped.json().code, "INSUFFICIENT_SCOPE");
  const clients = createClientService(createClientRepository(app.database.prisma));
  const revoked = await clients.create("revoked-introspector", ["tokens:introspect"]);
  t.equal((await introspect(accessToken, { "x-api-key": revoked.apiKey })).statusCode, 200, "works before revocation");
  await clients.revoke(revoked.id);
  t.equal((await introspect(accessToken, { "x-api-key": revoked.apiKey })).statusCode, 401, "a revoked key is refused");
});

t.test("an active access token introspects to its RFC 7662 fields", async (t) => {
  const { userId, accessToken } = await signIn();
  const res = await introspect(accessToken);
  t.equal(res.statusCode, 200);
  const body = res.json();
  const claims = decodeJwt(accessToken);
  t.match(body, {
    active: true,
    token_type: "access_token",
    sub: userId,
    sid: claims.sid,
    amr: ["pwd"],
    auth_time: claims.auth_time,
    iss: "http://127.0.0.1:3000",
    aud: "bookkeeping-api",
    iat: claims.iat,
    exp: claims.exp,
    jti: claims.jti,
  });
  t.equal(body.auth_time, Math.floor(clock.now().getTime() / 1000));
});

t.test("a refresh token introspects as active until it is spent", async (t) => {
  const { userId, accessToken, refreshToken } = await signIn();
  const body = (await introspect(refreshToken)).json();
  t.match(body, { active: true, token_type: "refresh_token", sub: userId, sid: decodeJwt(accessToken).sid, amr: ["pwd"] });
  t.type(body.exp, "number");
  const rotated = await app.inject({ method: "POST", url: "/v1/auth/refresh", payload: { refreshToken } });
  t.equal(rotated.statusCode, 200);
  await expectInactive(t, refreshToken, "the spent refresh token");
  t.equal((await introspect(rotated.json().refreshToken)).json().active, true, "its successor is active");
});

t.test("after logout both tokens of the session introspect as inactive", async (t) => {
  const { accessToken, refreshToken } = await signIn();
  t.equal((await introspect(accessToken)).json().active, true);
  const out = await app.inject({ method: "POST", url: "/v1/auth/logout", headers: bearer(accessToken) });
  t.equal(out.statusCode, 204);
  await expectInactive(t, accessToken, "the access token after logout");
  await expectInactive(t, refreshToken, "the refresh token after logout");
});

t.test("garbage, tampered and expired tokens introspect as inactive", async (t) => {
  const { accessToken } = await signIn();
  await expectInactive(t, "garbage", "garbage");
  await expectInactive(t, `${accessToken.slice(0, -4)}AAAA`, "a tampered signature");
  await expectInactive(t, `rt_${randomBytes(32).toString("base64url")}`, "an unknown refresh token");
  clock.advance((600 + 31) * 1000);
  await expectInactive(t, accessToken, "an expired access token");
  const bad = await app.inject({ method: "POST", url: "/v1/tokens/introspect", headers: { "x-api-key": introspector }, payload: { token: "x", extra: 1 } });
  t.equal(bad.statusCode, 400, "unknown fields are refused here too");
});
