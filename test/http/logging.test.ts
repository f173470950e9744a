// What the service writes to its log (checklist SR-05, LA-03, LA-04): structured
// JSON lines tied to a request id, no secret in any of them, and no way for a
// client to forge a line.
import t from "tap";
import { randomBytes } from "node:crypto";
import type { InjectOptions } from "fastify";
import type { App } from "../../src/http/app-type.ts";
import { bearer, createApiKey, logCapture, startApp } from "../helpers/app.ts";

const capture = logCapture();
// No refresh grace period: the flow below reuses a spent refresh token at once, to log a reuse.
const app: App = await startApp(t, { logStream: capture.stream, config: { REFRESH_REUSE_GRACE_SECONDS: 0 } });

const marker = () => randomBytes(6).toString("hex");
const parsed = () => capture.lines.map((line) => JSON.parse(line) as Record<string, unknown>);

/** Every value under a key of this name, at any depth. */
function valuesOf(value: unknown, name: string, found: unknown[] = []): unknown[] {
  if (value && typeof value === "object") {
    for (const [key, inner] of Object.entries(value)) {
      if (key.toLowerCase() === name) found.push(inner);
      valuesOf(inner, name, found);
    }
  }
  return found;
}

t.test("no password, token, API key or hash appears in any log line", async (t) => {
  const secrets: Record<string, string> = {};
  const writer = await createApiKey(app, ["users:write"]);
  const introspector = await createApiKey(app, ["tokens:introspect"]);
  Object.assign(secrets, { writer, introspector });
  const email = `log-${marker()}@example.com`;
  secrets.password = `first secret passphrase ${marker()}`;
  secrets.wrongPassword = `wrong secret guess ${marker()}`;
  secrets.newPassword = `second secret passphrase ${marker()}`;
  const requestIds: string[] = [];
  const send = async (options: InjectOptions) => {
    const res = await app.inject(options);
    requestIds.push(res.headers["x-request-id"] as string);
    return res;
  };

  const created = await send({ method: "POST", url: "/v1/users", headers: { "x-api-key": writer }, payload: { email, password: secrets.password, name: "Log Person" } });
  t.equal(created.statusCode, 201);
  t.equal((await send({ method: "POST", url: "/v1/auth/login", payload: { email, password: secrets.wrongPassword } })).statusCode, 401);
  const signedIn = await send({ method: "POST", url: "/v1/auth/login", payload: { email, password: secrets.password } });
  t.equal(signedIn.statusCode, 200);
  secrets.accessToken = signedIn.json().accessToken;
  secrets.refreshToken = signedIn.json().refreshToken;
  const refreshed = await send({ method: "POST", url: "/v1/auth/refresh", payload: { refreshToken: secrets.refreshToken! } });
  t.equal(refreshed.statusCode, 200);
  const accessToken2: string = refreshed.json().accessToken;
  secrets.accessToken2 = accessToken2;
  secrets.refreshToken2 = refreshed.json().refreshToken;
  const introspected = await send({ method: "POST", url: "/v1/tokens/introspect", headers: { "x-api-key": introspector }, payload: { token: accessToken2 } });
  t.equal(introspected.json().active, true);
  const wrongChange = await send({
    method: "POST", url: "/v1/me/password", headers: bearer(accessToken2),
    payload: { currentPassword: secrets.wrongPassword, newPassword: secrets.newPassword },
  });
  t.equal(wrongChange.statusCode, 401);
  const changed = await send({
    method: "POST", url: "/v1/me/password", headers: bearer(accessToken2),
    payload: { currentPassword: secrets.password, newPassword: secrets.newPassword },
  });
  t.equal(changed.statusCode, 204);
  t.equal((await send({ method: "POST", url: "/v1/auth/refresh", payload: { refreshToken: secrets.refreshToken } })).statusCode, 401, "a reuse, logged as such");
  const user = await app.database.prisma.user.findUniqueOrThrow({ where: { email }, select: { passwordHash: true } });
  secrets.passwordHash = user.passwordHash;

  t.ok(capture.lines.length > 10, `${capture.lines.length} lines captured`);
  for (const [name, secret] of Object.entries(secrets)) {
    const leaks = capture.lines.filter((line) => line.includes(secret) || line.includes(JSON.stringify(secret).slice(1, -1)));
    t.same(leaks, [], `${name} appears in no log line`);
  }
  // Token bodies without their prefix, in case one is logged in pieces.
  for (const name of ["refreshToken", "refreshToken2"]) {
    const core = secrets[name]!.replace(/^rt_/, "");
    t.notOk(capture.lines.some((line) => line.includes(core)), `${name} (without prefix) appears nowhere`);
  }
  for (const header of ["authorization", "x-api-key"]) {
    for (const value of parsed().flatMap((line) => valuesOf(line, header))) t.equal(value, "[redacted]", `${header} is redacted when logged`);
  }

  const lines = parsed();
  for (const id of requestIds) t.ok(lines.some((line) => line.reqId === id), `request ${id} is in the log under its reqId`);
  const requestLines = lines.filter((line) => "req" in line || "res" in line);
  t.ok(requestLines.length >= requestIds.length);
  t.ok(requestLines.every((line) => typeof line.reqId === "string"), "every request line carries a reqId");
});

t.test("a refused request is logged with its error code, so operators can tell why", async (t) => {
  const res = await app.inject({ method: "POST", url: "/v1/auth/login", payload: { email: `why-${marker()}@example.com`, password: "some wrong password" } });
  t.equal(res.statusCode, 401);
  const lines = parsed().filter((line) => line.reqId === res.headers["x-request-id"]);
  t.ok(lines.length > 0, "the request is in the log");
  t.ok(
    lines.some((line) => Object.values(line).includes("INVALID_CREDENTIALS")),
    `a line names INVALID_CREDENTIALS; got ${JSON.stringify(lines.map((l) => ({ msg: l.msg, code: l.code })))}`,
  );
});

t.test("every log line is one JSON object with a level and a time", async (t) => {
  t.ok(capture.lines.length > 0);
  for (const line of capture.lines) {
    let value: unknown;
    t.doesNotThrow(() => { value = JSON.parse(line); }, "parses as JSON");
    t.ok(value && typeof value === "object" && !Array.isArray(value), "an object");
    t.type((value as { level?: unknown }).level, "number");
    t.type((value as { time?: unknown }).time, "number");
  }
});

t.test("a newline in the email cannot forge a log line (LA-04)", async (t) => {
  const before = capture.lines.length;
  const forged = [
    'alice\n{"event":"x"}@example.com',
    'alice\r\n{"event":"x","level":30}@example.com',
    'alice"},{"event":"x"}@example.com',
  ];
  for (const email of forged) {
    const res = await app.inject({ method: "POST", url: "/v1/auth/login", payload: { email, password: "whatever password here" } });
    t.ok([400, 401].includes(res.statusCode), `${JSON.stringify(email)} → ${res.statusCode}`);
  }
  const added = capture.lines.slice(before);
  t.ok(added.length > 0, "the attempts were logged");
  for (const line of added) {
    const value = JSON.parse(line) as Record<string, unknown>;
    t.not(value.event, "x", "no line carries the injected event");
    t.notSame(value, { event: "x" });
    t.type(value.reqId, "string", "every added line belongs to a request");
  }
});
