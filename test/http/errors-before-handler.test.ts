// Errors Fastify raises before a route's handler runs (the router, the content-type parser)
// leave through the one problem handler like every other refusal (RFC 9457, src/errors.ts),
// and never echo the URL; and a request's query string never reaches the log.
import t, { type Test } from "tap";
import { randomBytes } from "node:crypto";
import { errorCatalogue } from "../../src/errors.ts";
import { logCapture, startApp } from "../helpers/app.ts";

const capture = logCapture();
const app = await startApp(t, { logStream: capture.stream });
const marker = () => randomBytes(8).toString("hex");

function assertProblem(t: Test, res: Awaited<ReturnType<typeof app.inject>>, status: number, code: string, echoed: string[]) {
  t.equal(res.statusCode, status, `status ${status}`);
  t.match(res.headers["content-type"], /^application\/problem\+json/, "problem+json");
  const body = res.json();
  t.equal(body.code, code, `code ${code}`);
  t.ok(code in errorCatalogue, "a code of the catalogue");
  t.equal(body.status, status);
  t.ok(res.headers["x-request-id"] === undefined || body.instance === res.headers["x-request-id"], "instance is the request id");
  for (const text of echoed) t.notOk(res.body.includes(text), "the answer does not echo the URL");
}

t.test("a path parameter over the router's limit answers 414 problem+json without echoing the URL", async (t) => {
  const long = `p${marker()}`.padEnd(300, "x");
  const res = await app.inject({ method: "GET", url: `/v1/users/${long}` });
  assertProblem(t, res, 414, "URI_TOO_LONG", [long.slice(0, 40)]);
});

t.test("a URL that is not valid percent-encoding answers 400 problem+json without echoing it", async (t) => {
  const m = marker();
  const res = await app.inject({ method: "GET", url: `/v1/users/${m}%E0%A4%A` });
  assertProblem(t, res, 400, "VALIDATION_FAILED", [m]);
});

t.test("an unknown route answers 404 problem+json without echoing the path", async (t) => {
  const m = marker();
  const res = await app.inject({ method: "GET", url: `/v1/no-such-route-${m}` });
  assertProblem(t, res, 404, "NOT_FOUND", [m]);
});

t.test("a body of another content type answers 415 problem+json", async (t) => {
  const res = await app.inject({ method: "POST", url: "/v1/auth/login", headers: { "content-type": "text/plain" }, payload: "email=a&password=b" });
  assertProblem(t, res, 415, "UNSUPPORTED_MEDIA_TYPE", []);
});

t.test("malformed JSON answers 400 problem+json without echoing the body", async (t) => {
  const m = marker();
  const res = await app.inject({ method: "POST", url: "/v1/auth/login", headers: { "content-type": "application/json" }, payload: `{"email":"${m}` });
  assertProblem(t, res, 400, "VALIDATION_FAILED", [m]);
});

t.test("a token in a query string never reaches a log line", async (t) => {
  const before = capture.lines.length;
  const token = `rt_${marker()}${marker()}`;
  const urls = [
    `/v1/me?refreshToken=${token}`, // refused as a credential in the URL
    `/.well-known/jwks.json?x=${token}`, // served
    `/v1/no-such-route?x=${token}`, // 404
    `/v1/users/${"y".repeat(300)}?x=${token}`, // 414 from the router
    `/v1/users/%E0%A4%A?x=${token}`, // 400 from the router
  ];
  for (const url of urls) {
    const res = await app.inject({ method: "GET", url });
    t.ok(res.statusCode < 500, `${url.slice(0, 24)}… answered ${res.statusCode}`);
    t.notOk(res.body.includes(token), "the answer does not carry the token");
  }
  const lines = capture.lines.slice(before);
  t.ok(lines.length >= urls.length, `${lines.length} log lines written`);
  t.same(lines.filter((line) => line.includes(token)), [], "no log line carries the token");
  const logged = lines.map((line) => JSON.parse(line) as { req?: { url?: string } }).filter((l) => l.req?.url);
  t.ok(logged.length >= urls.length, "every request was logged with its path");
  t.ok(logged.every((l) => !l.req!.url!.includes("?") || l.req!.url!.endsWith("?[redacted]")), "each logged URL is its path, the query replaced by a marker");
});
