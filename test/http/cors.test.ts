// CORS for browser frontends: an exact allow-list (CORS_ALLOWED_ORIGINS), with
// credentials and so never a wildcard; other origins get no CORS answer at all.
import t from "tap";
import type { App } from "../../src/http/app-type.ts";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { startApp } from "../helpers/app.ts";

const PAGE = "https://books.example.com";
const OTHER = "https://evil.example.net";
const app: App = await startApp(t, { config: { CORS_ALLOWED_ORIGINS: `${PAGE},https://admin.example.com` } });

const preflight = (origin: string, method = "POST", headers = "content-type,x-session-transport") =>
  app.inject({
    method: "OPTIONS", url: "/v1/auth/login",
    headers: { origin, "access-control-request-method": method, "access-control-request-headers": headers },
  });

t.test("a preflight from an allowed origin is answered for the allowed methods and headers, with credentials", async (t) => {
  const res = await preflight(PAGE);
  t.equal(res.statusCode, 204);
  t.equal(res.headers["access-control-allow-origin"], PAGE, "the exact origin, never *");
  t.equal(res.headers["access-control-allow-credentials"], "true");
  t.match(res.headers["access-control-allow-methods"], /POST/);
  for (const header of ["authorization", "content-type", "x-session-transport"]) {
    t.match(String(res.headers["access-control-allow-headers"]), header, `${header} may be sent`);
  }
  t.match(String(res.headers.vary), /Origin/, "caches keep answers per origin");
});

t.test("a preflight from an origin not in the allow-list gets no CORS answer", async (t) => {
  for (const origin of [OTHER, "https://books.example.com.evil.example.net", "http://books.example.com", "null"]) {
    const res = await preflight(origin);
    t.notOk(res.headers["access-control-allow-origin"], `${origin}: no Access-Control-Allow-Origin`);
    t.notOk(res.headers["access-control-allow-methods"], `${origin}: no methods`);
    t.not(res.statusCode, 204, `${origin}: not a successful preflight`);
  }
});

t.test("answers to an allowed origin are readable by its page, refusals included", async (t) => {
  const res = await app.inject({ method: "POST", url: "/v1/auth/login", headers: { origin: PAGE }, payload: { email: "nobody@example.com", password: "x".repeat(20) } });
  t.equal(res.statusCode, 401);
  t.equal(res.headers["access-control-allow-origin"], PAGE);
  t.match(String(res.headers["access-control-expose-headers"]), /x-request-id/, "the request id is readable, for support");
  const other = await app.inject({ method: "GET", url: "/health/live", headers: { origin: OTHER } });
  t.notOk(other.headers["access-control-allow-origin"], "another origin's page gets no CORS header");
});

t.test("in development the reference page's origin is allowed by default; in production none unless configured", async (t) => {
  t.match(loadConfig({}).CORS_ALLOWED_ORIGINS, "http://127.0.0.1:5173");
  t.equal(loadConfig({ MODE: "production" }).CORS_ALLOWED_ORIGINS, "");
  t.equal(loadConfig({ MODE: "production", CORS_ALLOWED_ORIGINS: PAGE }).CORS_ALLOWED_ORIGINS, PAGE);
});

t.test("the allow-list takes exact origins only: a wildcard or a path stops the start", async (t) => {
  for (const value of ["*", "https://*.example.com", "https://app.example.com/", "app.example.com", "ftp://files.example.com"]) {
    let refusal: unknown = null;
    try { loadConfig({ CORS_ALLOWED_ORIGINS: value }); } catch (error) { refusal = error; }
    t.ok(refusal instanceof ConfigError && refusal.message.includes("CORS_ALLOWED_ORIGINS"), `${value} is refused, naming the variable`);
  }
});
