// Immediate logout on every instance (issue "hot paths": the token checks read
// once and cache nothing). Two instances of one deployment share a database and
// their keys: a logout on one ends the token on the other at once, for the bearer
// check, GET /v1/me and introspection alike; a revoked service client is refused
// by introspection at once too.
import t from "tap";
import { manualClock } from "../helpers/clock.ts";
import type { App } from "../../src/http/app-type.ts";
import { generateKeyRecord, serializeKeyFile } from "../../src/lib/signing-keys.ts";
import { createClientRepository } from "../../src/clients/repository.ts";
import { createClientService } from "../../src/clients/service.ts";
import { bearer, createApiKey, createUser, login, sharedDatabase, startApp } from "../helpers/app.ts";

const clock = manualClock();
const database = await sharedDatabase(t);
const config = {
  MIGRATE_ON_START: false,
  SIGNING_KEYS: serializeKeyFile({ keys: [await generateKeyRecord("access", clock.now()), await generateKeyRecord("device", clock.now())] }),
};
const one: App = await startApp(t, { clock, config, database });
const two: App = await startApp(t, { clock, config, database });

const introspect = (app: App, apiKey: string, token: string) =>
  app.inject({ method: "POST", url: "/v1/tokens/introspect", headers: { "x-api-key": apiKey }, payload: { token } });

t.test("a logout on one instance ends the access token on the other at once: bearer check, /v1/me and introspection", async (t) => {
  const user = await createUser(one);
  const { accessToken } = (await login(one, user.email)).json();
  const apiKey = await createApiKey(two, ["tokens:introspect"]);
  t.equal((await two.inject({ method: "GET", url: "/v1/me", headers: bearer(accessToken) })).statusCode, 200, "live on the other instance");
  t.equal((await introspect(two, apiKey, accessToken)).json().active, true);

  t.equal((await one.inject({ method: "POST", url: "/v1/auth/logout", headers: bearer(accessToken) })).statusCode, 204);

  const me = await two.inject({ method: "GET", url: "/v1/me", headers: bearer(accessToken) });
  t.equal(me.statusCode, 401, "GET /v1/me on the other instance: 401");
  t.equal(me.json().code, "UNAUTHENTICATED");
  t.equal((await two.inject({ method: "GET", url: "/v1/me/devices", headers: bearer(accessToken) })).statusCode, 401, "any bearer route: 401");
  t.same((await introspect(two, apiKey, accessToken)).json(), { active: false }, "introspection on the other instance: inactive");
  t.same((await introspect(one, apiKey, accessToken)).json(), { active: false }, "and on this one");
});

t.test("introspection refuses a revoked client at once on every instance, and a client without the scope", async (t) => {
  const user = await createUser(one);
  const { accessToken } = (await login(one, user.email)).json();
  const clients = createClientService(createClientRepository(database.prisma));
  const { id, apiKey } = await clients.create("soon revoked", ["tokens:introspect"]);
  t.equal((await introspect(two, apiKey, accessToken)).statusCode, 200);
  await clients.revoke(id);
  for (const app of [one, two]) {
    const res = await introspect(app, apiKey, accessToken);
    t.equal(res.statusCode, 401, "revoked: 401");
    t.equal(res.json().code, "INVALID_CLIENT");
    t.notOk("active" in res.json(), "and nothing about the token");
  }
  const unscoped = await introspect(two, await createApiKey(two, ["users:read"]), accessToken);
  t.equal(unscoped.statusCode, 403);
  t.equal(unscoped.json().code, "INSUFFICIENT_SCOPE");
  const unknown = await introspect(two, "isk_not-a-key", accessToken);
  t.equal(unknown.statusCode, 401);
  t.equal(unknown.json().code, "INVALID_CLIENT");
});
