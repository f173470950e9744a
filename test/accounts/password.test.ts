// Changing one's password (API.md POST /v1/me/password; checklist PW-07, SJ-09):
// the current password is required and a wrong one is a counted guess; success
// ends every other session while this one goes on.
import t from "tap";
import { accountKey } from "../../src/rate-limit/sign-in-throttle.ts";
import { randomBytes } from "node:crypto";
import type { App } from "../../src/http/app-type.ts";
import { TEST_PASSWORD, bearer, createUser, login, startApp } from "../helpers/app.ts";
import { companyKit } from "../helpers/companies.ts";

const FREE = 3;
const app: App = await startApp(t, { config: { LOGIN_FREE_FAILURES: FREE } });
const NEW_PASSWORD = "a brand new passphrase 2026";

const uniqueEmail = (label: string) => `${label}-${randomBytes(4).toString("hex")}@example.com`;

async function signIn(email: string, password = TEST_PASSWORD) {
  const res = await login(app, email, password);
  if (res.statusCode !== 200) throw new Error(`login: ${res.statusCode} ${res.body}`);
  return res.json() as { accessToken: string; refreshToken: string };
}

const changePassword = (accessToken: string, payload: Record<string, unknown>) =>
  app.inject({ method: "POST", url: "/v1/me/password", headers: bearer(accessToken), payload });
const me = (accessToken: string) => app.inject({ method: "GET", url: "/v1/me", headers: bearer(accessToken) });
const refresh = (refreshToken: string) => app.inject({ method: "POST", url: "/v1/auth/refresh", payload: { refreshToken } });

t.test("a wrong current password is refused with 401 INVALID_CURRENT_PASSWORD and counts as a sign-in failure", async (t) => {
  const user = await createUser(app, uniqueEmail("guess"));
  const { accessToken } = await signIn(user.email);
  for (let i = 0; i < 2; i++) {
    const res = await changePassword(accessToken, { currentPassword: `wrong guess ${i}`, newPassword: NEW_PASSWORD });
    t.equal(res.statusCode, 401);
    t.equal(res.json().code, "INVALID_CURRENT_PASSWORD");
  }
  const counters = await app.database.prisma.rateLimitCounter.findMany({ where: { key: { contains: accountKey(user.email) } } });
  t.same(counters.filter((c) => c.key.startsWith("signin:fail:")).map((c) => c.count), [2], "two failures on the account's counter");
  // Two more guesses at the login take the account past its free failures.
  t.equal((await login(app, user.email, "wrong at login 1")).statusCode, 401);
  await login(app, user.email, "wrong at login 2");
  t.equal((await login(app, user.email)).statusCode, 429, "the login now waits: both routes feed one counter");
  const blocked = await changePassword(accessToken, { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD });
  t.equal(blocked.statusCode, 429, "and so does the password change");
  t.equal((await me(accessToken)).statusCode, 200, "the session itself is untouched");
});

t.test("a password change ends the other sessions, keeps this one, and swaps the passwords", async (t) => {
  const user = await createUser(app, uniqueEmail("change"));
  const here = await signIn(user.email);
  const elsewhere = await signIn(user.email);
  const res = await changePassword(here.accessToken, { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD });
  t.equal(res.statusCode, 204);

  t.equal((await login(app, user.email, TEST_PASSWORD)).statusCode, 401, "the old password fails");
  t.equal((await login(app, user.email, NEW_PASSWORD)).statusCode, 200, "the new one works");

  t.equal((await refresh(elsewhere.refreshToken)).statusCode, 401, "the other session's refresh token died");
  t.equal((await me(elsewhere.accessToken)).statusCode, 401, "and its access token");
  t.equal((await me(here.accessToken)).statusCode, 200, "this session's access token still works");
  t.equal((await refresh(here.refreshToken)).statusCode, 200, "and so does its refresh token");
});

t.test("the new password must pass the policy; a refused change leaves the old password in place", async (t) => {
  const user = await createUser(app, uniqueEmail("policy"));
  const { accessToken } = await signIn(user.email);
  const cases: Array<[string, string]> = [
    ["short", "PASSWORD_TOO_SHORT"],
    ["password123456789", "PASSWORD_BLOCKLISTED"],
    [user.email, "PASSWORD_CONTAINS_CONTEXT"],
  ];
  for (const [newPassword, code] of cases) {
    const res = await changePassword(accessToken, { currentPassword: TEST_PASSWORD, newPassword });
    t.equal(res.statusCode, 400, code);
    t.equal(res.json().code, code);
  }
  t.equal((await login(app, user.email)).statusCode, 200, "the old password still works");
});

t.test("the new password may not be the name of a company the person is a member of or assigned to (PW-06)", async (t) => {
  const kit = await companyKit(app);
  const tag = randomBytes(3).toString("hex");
  const [employer, office, client, stranger] = await Promise.all(
    [`Nordic Timber ${tag}`, `Fjord Accounting ${tag}`, `Harbour Bakery ${tag}`, `Unrelated Widgets ${tag}`].map((name, i) =>
      i === 1 ? kit.office(name) : kit.company(name),
    ),
  );
  const user = await createUser(app, uniqueEmail("company"));
  await kit.member(employer!.id, user.id);
  await kit.member(office!.id, user.id);
  await kit.serve(office!.id, client!.id);
  await kit.assign(office!.id, client!.id, user.id);
  const { accessToken } = await signIn(user.email);
  for (const company of [employer!, office!, client!]) {
    const res = await changePassword(accessToken, { currentPassword: TEST_PASSWORD, newPassword: `${company.name}${company.name}` });
    t.equal(res.statusCode, 400, company.name);
    t.equal(res.json().code, "PASSWORD_CONTAINS_CONTEXT");
  }
  const padded = await changePassword(accessToken, { currentPassword: TEST_PASSWORD, newPassword: `${employer!.name} 2024!` });
  t.equal(padded.json().code, "PASSWORD_CONTAINS_CONTEXT", "padded with a year");
  const unrelated = `${stranger!.name}${stranger!.name}`;
  t.equal((await changePassword(accessToken, { currentPassword: TEST_PASSWORD, newPassword: unrelated })).statusCode, 204, "another company's name is just words");
  t.equal((await login(app, user.email, unrelated)).statusCode, 200);
});

t.test("the change needs a bearer token and both fields", async (t) => {
  const noToken = await app.inject({ method: "POST", url: "/v1/me/password", payload: { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD } });
  t.equal(noToken.statusCode, 401);
  const user = await createUser(app, uniqueEmail("fields"));
  const { accessToken } = await signIn(user.email);
  const missing = await changePassword(accessToken, { newPassword: NEW_PASSWORD });
  t.equal(missing.statusCode, 400);
  t.equal(missing.json().code, "VALIDATION_FAILED");
  t.equal((await login(app, user.email, NEW_PASSWORD)).statusCode, 401, "nothing changed");
});
