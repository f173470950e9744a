// Provisioning users over HTTP (API.md POST /v1/users) and reading oneself
// (GET /v1/me): scopes, normalised uniqueness, the password policy with reason
// codes (checklist PW-01, PW-06), argon2id storage (PW-12) and no credential
// material in any response (PW-11).
import t from "tap";
import type { Test } from "tap";
import { randomBytes } from "node:crypto";
import type { App } from "../../src/http/app-type.ts";
import { TEST_PASSWORD, bearer, createApiKey, login, startApp } from "../helpers/app.ts";

const app: App = await startApp(t);
const writer = await createApiKey(app, ["users:write"]);

const uniqueEmail = (label: string) => `${label}-${randomBytes(4).toString("hex")}@example.com`;
/** Every response body this file sees, checked for credential material at the end. */
const bodies: string[] = [];

async function postUser(payload: Record<string, unknown>, headers: Record<string, string> = { "x-api-key": writer }) {
  const res = await app.inject({ method: "POST", url: "/v1/users", headers, payload });
  bodies.push(res.body);
  return res;
}

async function expectRefused(t: Test, payload: { email: string; password: string; name: string }, status: number, code: string) {
  const res = await postUser(payload);
  t.equal(res.statusCode, status, code);
  t.equal(res.json().code, code);
  const stored = await app.database.prisma.user.findUnique({ where: { email: payload.email.trim().toLowerCase() } });
  return stored;
}

t.test("creating a user needs an API key with users:write", async (t) => {
  const email = uniqueEmail("scoped");
  const payload = { email, password: TEST_PASSWORD, name: "Scoped" };
  const none = await postUser(payload, {});
  t.equal(none.statusCode, 401);
  t.equal(none.json().code, "INVALID_CLIENT");
  const wrongKey = await postUser(payload, { "x-api-key": "isk_not-a-real-key" });
  t.equal(wrongKey.statusCode, 401);
  t.equal(wrongKey.json().code, "INVALID_CLIENT");
  const reader = await postUser(payload, { "x-api-key": await createApiKey(app, ["users:read", "tokens:introspect"]) });
  t.equal(reader.statusCode, 403);
  t.equal(reader.json().code, "INSUFFICIENT_SCOPE");
  t.equal(await app.database.prisma.user.count({ where: { email } }), 0, "nothing was created");
  const ok = await postUser(payload);
  t.equal(ok.statusCode, 201);
  t.same(Object.keys(ok.json()).sort(), ["createdAt", "email", "id", "name"], "only public fields");
});

t.test("an email taken in any spelling is refused with 409 EMAIL_TAKEN", async (t) => {
  const local = `dup-${randomBytes(4).toString("hex")}`;
  t.equal((await postUser({ email: `${local}@example.com`, password: TEST_PASSWORD, name: "First" })).statusCode, 201);
  const dup = await postUser({ email: `  ${local.toUpperCase()}@EXAMPLE.com `, password: TEST_PASSWORD, name: "Second" });
  t.equal(dup.statusCode, 409);
  t.equal(dup.json().code, "EMAIL_TAKEN");
  t.equal(await app.database.prisma.user.count({ where: { email: { contains: local, mode: "insensitive" } } }), 1);
});

t.test("the password policy refuses with a reason code and creates nothing", async (t) => {
  const name = "Policy Person";
  const short = uniqueEmail("short");
  t.equal(await expectRefused(t, { email: short, password: "elevenchars", name }, 400, "PASSWORD_TOO_SHORT"), null);
  t.equal(await expectRefused(t, { email: uniqueEmail("common"), password: "password123456789", name }, 400, "PASSWORD_BLOCKLISTED"), null);
  t.equal(await expectRefused(t, { email: uniqueEmail("common"), password: "PassWord123456789", name }, 400, "PASSWORD_BLOCKLISTED"), null, "case does not dodge the list");
  const self = uniqueEmail("myself");
  t.equal(await expectRefused(t, { email: self, password: self, name }, 400, "PASSWORD_CONTAINS_CONTEXT"), null, "password = email");
  const local = self.split("@")[0]!;
  t.equal(await expectRefused(t, { email: uniqueEmail("x"), password: "Policy PersonPolicy Person", name }, 400, "PASSWORD_CONTAINS_CONTEXT"), null, "the name repeated");
  t.equal(await expectRefused(t, { email: self, password: `${local}${local}`, name }, 400, "PASSWORD_CONTAINS_CONTEXT"), null, "the local part repeated");
  t.equal(await expectRefused(t, { email: uniqueEmail("long"), password: "x".repeat(1025), name }, 400, "PASSWORD_TOO_LONG"), null);
  t.equal((await postUser({ email: uniqueEmail("fifteen"), password: "fifteen letters", name })).statusCode, 201, "15 code points is enough by default");
  t.equal((await postUser({ email: uniqueEmail("emoji"), password: "🔐🦊🌵🎲🚲🍉🐙🎷🌋🧲🪁🦉🍄🛶🧊", name })).statusCode, 201, "length is counted in code points");
  t.equal((await postUser({ email: uniqueEmail("phrase"), password: "my password is a long sentence", name })).statusCode, 201, "containing a common word is fine");
});

t.test("by default 14 code points are too short and 15 enough; where 2SV is mandatory the minimum may be 8 (PW-01)", async (t) => {
  const name = "Length Person";
  t.equal(await expectRefused(t, { email: uniqueEmail("fourteen"), password: "fourteen chars", name }, 400, "PASSWORD_TOO_SHORT"), null);
  t.equal((await postUser({ email: uniqueEmail("fifteen"), password: "fifteen letters", name })).statusCode, 201);

  const mandated = await startApp(t, { config: { PASSWORD_MIN_LENGTH: 8 } });
  const key = await createApiKey(mandated, ["users:write"]);
  const post = (password: string) =>
    mandated.inject({ method: "POST", url: "/v1/users", headers: { "x-api-key": key }, payload: { email: uniqueEmail("mandated"), password, name } });
  t.equal((await post("seven c")).json().code, "PASSWORD_TOO_SHORT", "7 code points");
  t.equal((await post("eight ch")).statusCode, 201, "8 code points");
  t.equal((await post("iloveyou1234")).json().code, "PASSWORD_BLOCKLISTED", "a padded common password is still refused at 8");
});

t.test("passwords are stored as argon2id at the configured parameters (default m=65536, t=3, p=1) with a per-user salt", async (t) => {
  const [a, b] = [uniqueEmail("hash-a"), uniqueEmail("hash-b")];
  t.equal((await postUser({ email: a, password: TEST_PASSWORD, name: "A" })).statusCode, 201);
  t.equal((await postUser({ email: b, password: TEST_PASSWORD, name: "B" })).statusCode, 201);
  const rows = await app.database.prisma.user.findMany({ where: { email: { in: [a, b] } }, select: { passwordHash: true } });
  t.equal(rows.length, 2);
  for (const { passwordHash } of rows) {
    t.match(passwordHash, /^\$argon2id\$v=19\$m=65536,t=3,p=1\$[A-Za-z0-9+/]{22,}\$[A-Za-z0-9+/]{43,}$/);
    t.notOk(passwordHash.includes(TEST_PASSWORD));
  }
  t.not(rows[0]!.passwordHash, rows[1]!.passwordHash, "same password, different hashes");
});

t.test("GET /v1/me answers 401 without a valid token and the profile with one", async (t) => {
  const none = await app.inject({ method: "GET", url: "/v1/me" });
  t.equal(none.statusCode, 401);
  t.equal(none.json().code, "UNAUTHENTICATED");
  const bad = await app.inject({ method: "GET", url: "/v1/me", headers: bearer("eyJhbGciOiJFZERTQSJ9.e30.AAAA") });
  t.equal(bad.statusCode, 401);
  t.equal(bad.json().code, "UNAUTHENTICATED");
  const email = uniqueEmail("me");
  const created = await postUser({ email, password: TEST_PASSWORD, name: "  Me Myself  " });
  const signedIn = await login(app, email);
  bodies.push(signedIn.body);
  const res = await app.inject({ method: "GET", url: "/v1/me", headers: bearer(signedIn.json().accessToken) });
  bodies.push(res.body);
  t.equal(res.statusCode, 200);
  t.match(res.json(), { id: created.json().id, email, name: "Me Myself" });
});

t.test("no response ever contains a password hash or the password", async (t) => {
  t.ok(bodies.length > 10);
  for (const body of bodies) {
    t.notOk(/passwordHash|password_hash|\$argon2/.test(body), "no hash");
    t.notOk(body.includes(TEST_PASSWORD), "no password");
  }
});
