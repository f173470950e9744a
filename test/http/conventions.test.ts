// HTTP conventions of PRODUCT.md and checklist IV-01..IV-04, IV-07: strict JSON
// schemas (no unknown fields, no coercion), JSON only, small bodies, no
// prototype pollution, and every error as application/problem+json with a
// stable code, the request id, and no internals.
import t from "tap";
import type { Test } from "tap";
import { randomBytes } from "node:crypto";
import type { LightMyRequestResponse } from "fastify";
import type { App } from "../../src/http/app-type.ts";
import { TEST_PASSWORD, createApiKey, startApp } from "../helpers/app.ts";

const app: App = await startApp(t);
const writer = await createApiKey(app, ["users:write"]);
const uniqueEmail = (label: string) => `${label}-${randomBytes(4).toString("hex")}@example.com`;

/** Every problem this file provokes, re-checked as a whole at the end. */
const problems: LightMyRequestResponse[] = [];

function expectProblem(t: Test, res: LightMyRequestResponse, status: number, code: string, message = code) {
  problems.push(res);
  t.equal(res.statusCode, status, message);
  t.match(res.headers["content-type"], /^application\/problem\+json/, `${message}: problem+json`);
  const body = res.json();
  t.equal(body.code, code, message);
  t.equal(body.status, status, `${message}: status in the body`);
  t.equal(res.headers["x-request-id"], body.instance, `${message}: x-request-id = instance`);
}

const rawLogin = (payload: string, contentType = "application/json") =>
  app.inject({ method: "POST", url: "/v1/auth/login", headers: { "content-type": contentType }, payload });

const userCount = (email: string) => app.database.prisma.user.count({ where: { email } });

t.test("an unknown field is refused with 400 VALIDATION_FAILED and nothing is created", async (t) => {
  const email = uniqueEmail("mass");
  const res = await app.inject({
    method: "POST", url: "/v1/users", headers: { "x-api-key": writer },
    payload: { email, password: TEST_PASSWORD, name: "Mass Assignment", isAdmin: true },
  });
  expectProblem(t, res, 400, "VALIDATION_FAILED");
  t.ok(Array.isArray(res.json().errors) && res.json().errors.length > 0, "the offending input is named");
  t.equal(await userCount(email), 0, "no user created");
  expectProblem(t, await rawLogin(JSON.stringify({ email, password: TEST_PASSWORD, hint: "x" })), 400, "VALIDATION_FAILED", "login with an extra field");
});

t.test("types are not coerced: a number or an array where a string is expected is refused", async (t) => {
  const email = uniqueEmail("coerce");
  expectProblem(t, await rawLogin(JSON.stringify({ email, password: 123456789012 })), 400, "VALIDATION_FAILED", "password as number");
  expectProblem(t, await rawLogin(JSON.stringify({ email: [email], password: TEST_PASSWORD })), 400, "VALIDATION_FAILED", "email as array");
  const res = await app.inject({
    method: "POST", url: "/v1/users", headers: { "x-api-key": writer },
    payload: { email, password: TEST_PASSWORD, name: 42 },
  });
  expectProblem(t, res, 400, "VALIDATION_FAILED", "name as number");
  t.equal(await userCount(email), 0);
});

t.test("only JSON is accepted: text/plain and a missing content type get 415", async (t) => {
  const body = JSON.stringify({ email: uniqueEmail("text"), password: TEST_PASSWORD });
  expectProblem(t, await rawLogin(body, "text/plain"), 415, "UNSUPPORTED_MEDIA_TYPE", "text/plain");
  expectProblem(t, await rawLogin(body, "application/x-www-form-urlencoded"), 415, "UNSUPPORTED_MEDIA_TYPE", "form");
  const bare = await app.inject({ method: "POST", url: "/v1/auth/login", payload: body });
  expectProblem(t, bare, 415, "UNSUPPORTED_MEDIA_TYPE", "no content type");
});

t.test("a 17 KiB body is refused with 413 BODY_TOO_LARGE before it is parsed", async (t) => {
  const email = uniqueEmail("big");
  const big = JSON.stringify({ email, password: TEST_PASSWORD, name: "x".repeat(17 * 1024) });
  const res = await app.inject({ method: "POST", url: "/v1/users", headers: { "x-api-key": writer, "content-type": "application/json" }, payload: big });
  expectProblem(t, res, 413, "BODY_TOO_LARGE");
  t.equal(await userCount(email), 0);
});

t.test("malformed or empty JSON gets 400, not 500", async (t) => {
  expectProblem(t, await rawLogin('{"email": "a@example.com", "password": '), 400, "VALIDATION_FAILED", "truncated JSON");
  expectProblem(t, await rawLogin("{'email': 'single quotes'}"), 400, "VALIDATION_FAILED", "not JSON");
  expectProblem(t, await rawLogin(""), 400, "VALIDATION_FAILED", "empty body");
  expectProblem(t, await rawLogin("null"), 400, "VALIDATION_FAILED", "null body");
});

t.test("prototype-pollution keys are refused with 400", async (t) => {
  const base = `"email":"${uniqueEmail("proto")}","password":"${TEST_PASSWORD}"`;
  expectProblem(t, await rawLogin(`{${base},"__proto__":{"x":1}}`), 400, "VALIDATION_FAILED", "__proto__");
  expectProblem(t, await rawLogin(`{${base},"constructor":{"prototype":{"x":1}}}`), 400, "VALIDATION_FAILED", "constructor.prototype");
  t.equal(({} as Record<string, unknown>).x, undefined, "Object.prototype is clean");
});

t.test("unknown routes and undocumented methods get a 404 problem", async (t) => {
  expectProblem(t, await app.inject({ method: "GET", url: `/v1/nothing-here/${randomBytes(4).toString("hex")}` }), 404, "NOT_FOUND");
  expectProblem(t, await app.inject({ method: "GET", url: "/v1/auth/login" }), 404, "NOT_FOUND", "GET on a POST route");
  expectProblem(t, await app.inject({ method: "PATCH", url: "/v1/auth/login" }), 404, "NOT_FOUND", "PATCH");
});

t.test("the request id is the server's own: a client-sent x-request-id is not echoed", async (t) => {
  const res = await app.inject({ method: "GET", url: "/v1/nope", headers: { "x-request-id": "forged-id" } });
  expectProblem(t, res, 404, "NOT_FOUND");
  t.not(res.headers["x-request-id"], "forged-id");
  t.match(res.headers["x-request-id"], /^[0-9a-f-]{36}$/);
});

t.test("successful JSON responses declare application/json with a charset", async (t) => {
  const res = await app.inject({ method: "GET", url: "/.well-known/jwks.json" });
  t.equal(res.statusCode, 200);
  t.equal(res.headers["content-type"], "application/json; charset=utf-8");
});

t.test("no error body carries a stack trace or source path", async (t) => {
  t.ok(problems.length >= 15);
  for (const res of problems) {
    t.notOk(/\bat .*\.ts:\d+|\.ts:\d+:\d+|node_modules|stack/i.test(res.body), `clean body: ${res.body.slice(0, 80)}`);
    t.same(Object.keys(res.json()).filter((k) => !["type", "title", "status", "code", "instance", "detail", "errors", "retryAfterSeconds"].includes(k)), [], "only RFC 9457 members");
  }
});
