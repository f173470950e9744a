// Every operation of openapi/openapi.json, fuzzed: requests generated from the document
// (valid, boundary and hostile values for each body field, path parameter, query parameter
// and credential header; malformed JSON; wrong content types), at least 10,000 in all
// (FUZZ_REQUESTS), through the production buildApp on a real database. The properties:
// no answer is a 5xx, every 4xx is application/problem+json with a code of the catalogue
// (src/errors.ts), and the service is still ready and signs people in afterwards.
import t from "tap";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import type { InjectOptions } from "fastify";
import { errorCatalogue } from "../../src/errors.ts";
import { SCOPES } from "../../src/clients/service.ts";
import { createApiKey, createUser, login, startApp } from "../helpers/app.ts";
import { hostileString, operationsOf, resolver, valueOf, type OpenApiDocument, type Operation } from "./openapi-arbitraries.ts";

const document = JSON.parse(readFileSync(new URL("../../openapi/openapi.json", import.meta.url), "utf8")) as OpenApiDocument;
const resolve = resolver(document);
const operations = operationsOf(document);
const TOTAL = Number(process.env.FUZZ_REQUESTS ?? 10_000);
const runsPerOperation = Math.ceil(TOTAL / operations.length);
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);

// Cheaper argon2 (the OWASP floor, t=1) keeps 10,000 requests within a minute or two; the
// handlers, the database and every check are the production ones.
const app = await startApp(t, { config: { ARGON2_MEMORY_KIB: 19_456, ARGON2_TIME_COST: 1 } });
const apiKey = await createApiKey(app, [...SCOPES]);
// A fresh person per operation: an earlier operation may have ended the session, disabled the
// person or reset their second factor, and the next one should still reach its handler.
let person = await createUser(app);
let signedIn = (await login(app, person.email)).json() as { accessToken: string; refreshToken: string };
async function freshPerson() {
  person = await createUser(app);
  signedIn = (await login(app, person.email)).json() as { accessToken: string; refreshToken: string };
}
const company = await app.inject({ method: "POST", url: "/v1/companies", headers: { "x-api-key": apiKey }, payload: { name: "Fuzz Ltd" } });
const companyId = company.statusCode === 201 ? (company.json() as { id: string }).id : person.id;

/** Real values for fields of these names, so generated requests also reach past the lookups. */
function known(name: string): unknown[] {
  if (/^(id|userId|officeId|clientId|challengeId|pairingId)$/.test(name)) return [person.id, companyId];
  if (name === "email") return [person.email];
  if (/password/i.test(name)) return [person.password];
  if (name === "refreshToken") return [signedIn.refreshToken];
  if (name === "token") return [signedIn.accessToken];
  return [];
}

/** Header values as HTTP allows them (visible ASCII and spaces): inject refuses others before they reach the server. */
const headerSafe = (value: string) => value.replace(/[^\x20-\x7e]/g, "?").slice(0, 8_000);

function encodeSegment(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value) ?? "undefined";
  try {
    return encodeURIComponent(text);
  } catch {
    return "%E0%A4%A"; // a lone surrogate cannot be percent-encoded: send a broken escape instead
  }
}

function credentialHeaders(scheme: string, validOnly: boolean): fc.Arbitrary<Record<string, string>> {
  const garbage = hostileString().map(headerSafe);
  if (validOnly && scheme === "bearerAuth") return fc.constant({ authorization: `Bearer ${signedIn.accessToken}` });
  if (validOnly && scheme === "apiKey") return fc.constant({ "x-api-key": apiKey });
  switch (scheme) {
    case "bearerAuth":
      return fc.oneof(
        fc.constant({ authorization: `Bearer ${signedIn.accessToken}` }),
        garbage.map((g) => ({ authorization: `Bearer ${g}` })),
        garbage.map((g) => ({ authorization: g })),
        fc.constant({}),
      );
    case "apiKey":
      return fc.oneof(fc.constant({ "x-api-key": apiKey }), garbage.map((g) => ({ "x-api-key": g })), fc.constant({}));
    default: {
      const header = document.components?.securitySchemes?.[scheme]?.name ?? "x-app-signature";
      return fc.oneof(garbage.map((g) => ({ [header]: g })), fc.constant({}));
    }
  }
}

/** Half the requests are valid in every field (they reach the handlers), half mix in boundary and hostile values. */
const requestOf = (op: Operation) => fc.oneof(requestShaped(op, true), requestShaped(op, false));

function requestShaped(op: Operation, validOnly: boolean): fc.Arbitrary<InjectOptions> {
  const options = { known, depth: 0, validOnly };
  const pathParams = op.parameters.filter((p) => p.in === "path");
  const queryParams = op.parameters.filter((p) => p.in === "query");
  const path = fc.tuple(...pathParams.map((p) => valueOf(p.schema, resolve, options, p.name)))
    .map((values) => pathParams.reduce((url, p, i) => url.replace(`{${p.name}}`, encodeSegment(values[i])), op.path));
  const query = fc.tuple(...queryParams.map((p) => fc.option(valueOf(p.schema, resolve, options, p.name), { freq: 3 })), validOnly ? fc.constant(null) : fc.option(hostileString(), { freq: 4 }))
    .map(([...values]) => {
      const extra = values.pop();
      const search = new URLSearchParams();
      queryParams.forEach((p, i) => {
        const v = values[i];
        if (v !== null && v !== undefined) search.set(p.name, typeof v === "string" ? v : JSON.stringify(v) ?? "");
      });
      if (typeof extra === "string") search.set(extra.length % 2 ? "token" : "x", extra);
      const text = search.toString();
      return text ? `?${text}` : "";
    });
  const credentials = op.security.length > 0 ? fc.oneof(...op.security.map((s) => credentialHeaders(s, validOnly))) : fc.constant({});
  const extraHeaders = validOnly ? fc.constant(null) : fc.option(fc.record({
    origin: fc.constantFrom("http://127.0.0.1:5173", "https://evil.example", "null"),
    "x-session-transport": fc.constantFrom("cookie", "body", "garbage"),
    "x-forwarded-for": hostileString().map(headerSafe),
  }, { requiredKeys: [] }), { freq: 5 });
  const jsonBody = op.body ? valueOf(op.body, resolve, options) : fc.jsonValue({ maxDepth: 2 });
  const validBody = jsonBody.map((v) => ({ payload: JSON.stringify(v) ?? "null", contentType: "application/json" }));
  const body: fc.Arbitrary<{ payload?: string; contentType?: string }> = validOnly ? (op.body ? validBody : fc.constant({})) : fc.oneof(
    { weight: op.body ? 16 : 2, arbitrary: jsonBody.map((v) => ({ payload: JSON.stringify(v) ?? "null", contentType: "application/json" })) },
    { weight: op.body ? 1 : 12, arbitrary: fc.constant({}) },
    { weight: 1, arbitrary: fc.constantFrom("{", "{\"a\":", "[1,]", "\u0000", "{\"__proto__\":{\"x\":1}}", "{\"constructor\":{\"prototype\":{\"x\":1}}}").map((p) => ({ payload: p, contentType: "application/json" })) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom("text/plain", "application/x-www-form-urlencoded", "application/json; charset=utf-16", "multipart/form-data; boundary=x", "application/jsonx"), fc.string({ maxLength: 50 })).map(([contentType, payload]) => ({ payload, contentType })) },
  );
  return fc.tuple(path, query, credentials, extraHeaders, body).map(([p, q, creds, extra, b]) => ({
    method: op.method as InjectOptions["method"],
    url: `${p}${q}`,
    headers: { ...creds, ...(extra ?? {}), ...(b.contentType ? { "content-type": b.contentType } : {}) },
    ...(b.payload !== undefined ? { payload: b.payload } : {}),
  }));
}

let sent = 0;
const statuses = new Map<number, number>();

/** Throws (so fast-check shrinks and reports the request) unless the answer keeps the contract. */
async function sendAndCheck(request: InjectOptions) {
  const res = await app.inject(request);
  sent++;
  statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
  const where = `${request.method} ${String(request.url).slice(0, 200)} -> ${res.statusCode} ${res.body.slice(0, 300)}`;
  if (res.statusCode >= 500) throw new Error(`a 5xx: ${where}`);
  if (res.statusCode >= 400) {
    if (!/^application\/problem\+json/.test(String(res.headers["content-type"]))) throw new Error(`not problem+json: ${where}`);
    const code = (res.json() as { code?: unknown }).code;
    if (typeof code !== "string" || !(code in errorCatalogue)) throw new Error(`no catalogue code: ${where}`);
    if (errorCatalogue[code as keyof typeof errorCatalogue].status !== res.statusCode) throw new Error(`code ${code} with another status: ${where}`);
  }
}

t.comment(`fuzz seed ${SEED} (FUZZ_SEED=${SEED} repeats this run), ${operations.length} operations x ${runsPerOperation} requests`);

t.test("every operation answers generated requests without a 5xx, every 4xx a problem+json with a catalogue code", async (t) => {
  t.ok(operations.length >= 40, `${operations.length} operations in the document`);
  for (const op of operations) {
    await freshPerson();
    const before = sent;
    await fc.assert(fc.asyncProperty(requestOf(op), sendAndCheck), { numRuns: runsPerOperation, seed: SEED, endOnFailure: true });
    t.pass(`${op.method} ${op.path}: ${sent - before} requests`);
  }
  t.ok(sent >= TOTAL, `${sent} requests sent (at least ${TOTAL})`);
  t.comment(`statuses: ${[...statuses.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}x${n}`).join(" ")}`);
  t.ok([...statuses.keys()].some((s) => s < 300), "some requests got through to a success (the generator reaches the handlers)");
});

t.test("after the fuzz the service is still ready and signs a person in", async (t) => {
  const ready = await app.inject({ method: "GET", url: "/health/ready" });
  t.equal(ready.statusCode, 200);
  const fresh = await createUser(app);
  const res = await login(app, fresh.email);
  t.equal(res.statusCode, 200);
  t.equal(res.json().status, "authenticated");
});
