import t from "tap";
import { bearer, createUser, login, startApp } from "../helpers/app.ts";

t.test("a created user signs in, reads /v1/me and refreshes", async (t) => {
  const app = await startApp(t);
  const user = await createUser(app, "Ada@Example.COM ");
  const res = await login(app, "ada@example.com");
  t.equal(res.statusCode, 200);
  const body = res.json();
  t.equal(body.status, "authenticated");
  t.equal(res.headers["cache-control"], "no-store");
  const me = await app.inject({ method: "GET", url: "/v1/me", headers: bearer(body.accessToken) });
  t.equal(me.statusCode, 200);
  t.equal(me.json().id, user.id);
  t.equal(me.json().email, "ada@example.com");
  const refreshed = await app.inject({ method: "POST", url: "/v1/auth/refresh", payload: { refreshToken: body.refreshToken } });
  t.equal(refreshed.statusCode, 200);
  t.not(refreshed.json().refreshToken, body.refreshToken);
});
