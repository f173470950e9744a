// External sign-in with a multi-factor provider (BankID, the default), and every
// way an assertion can be wrong (RFC 8725; checklist SJ-01..SJ-03). Every refusal,
// unknown subject included, must be the same 401 so a prober cannot tell which
// check failed or whether a person has BankID linked.
import t from "tap";
import { decodeJwt, SignJWT } from "jose";
import { createPublicKey, randomUUID } from "node:crypto";
import { manualClock } from "../helpers/clock.ts";
import type { App } from "../../src/http/app-type.ts";
import { createApiKey, createUser, logCapture, startApp } from "../helpers/app.ts";
import { b64url, claimsFor, federatedSignIn, forbidNetwork, linkIdentity, providerConfig, providerKey, signAssertion } from "./provider.ts";

const network = forbidNetwork(t);
const clock = manualClock(new Date("2026-11-28T10:00:00Z"));
const es256 = await providerKey("ES256", "es-1");
const eddsa = await providerKey("EdDSA", "ed-1");
// Trusted by the key set, but RS256 is left out of FEDERATED_ALGORITHMS (ES256,EdDSA,PS256 by default).
const rs256 = await providerKey("RS256", "rs-1");
const logs = logCapture();
const app: App = await startApp(t, { clock, logStream: logs.stream, config: await providerConfig(t, [es256, eddsa, rs256]) });

async function linkedPerson(subject = `bankid-${randomUUID()}`) {
  const user = await createUser(app);
  await linkIdentity(app, user.id, subject);
  return { ...user, subject };
}

/** The problem minus its per-request instance: must be byte-identical for every refusal. */
function publicPart(body: Record<string, unknown>) {
  const { instance: _instance, ...rest } = body;
  return rest;
}

/** What the log says about one refused request: the reason is for operators only. */
function refusalReason(requestId: string): string | undefined {
  const line = logs.lines.find((l) => l.includes(requestId) && l.includes("request refused"));
  return line ? JSON.parse(line).reason : undefined;
}

const EXPECTED_401 = {
  type: "about:blank",
  title: "The external sign-in could not be accepted; sign in again, or with your password.",
  status: 401,
  code: "INVALID_ASSERTION",
};

t.test("a valid assertion from the multi-factor provider signs the linked person in with amr ext and mfa", async (t) => {
  for (const key of [es256, eddsa]) {
    const person = await linkedPerson();
    const res = await federatedSignIn(app, await signAssertion(key, person.subject, clock));
    t.equal(res.statusCode, 200, `${key.alg}: ${res.body}`);
    t.equal(res.headers["cache-control"], "no-store");
    const body = res.json();
    t.equal(body.status, "authenticated");
    const token = decodeJwt(body.accessToken);
    t.equal(token.sub, person.id);
    t.same(token.amr, ["ext", "mfa"], `${key.alg}: BankID satisfies the second step by itself`);
    t.equal(token.auth_time, Math.floor(clock.now().getTime() / 1000));
    t.type(body.refreshToken, "string");
  }
});

t.test("an assertion signs in once: replaying it, with or without a jti, gets the identical 401", async (t) => {
  const person = await linkedPerson();
  const withJti = await signAssertion(es256, person.subject, clock);
  t.equal((await federatedSignIn(app, withJti)).statusCode, 200);
  const replay = await federatedSignIn(app, withJti);
  t.equal(replay.statusCode, 401);
  t.equal(replay.json().code, "INVALID_ASSERTION");
  const withoutJti = await signAssertion(es256, person.subject, clock, { omit: ["jti"] });
  t.equal((await federatedSignIn(app, withoutJti)).statusCode, 200);
  t.equal((await federatedSignIn(app, withoutJti)).statusCode, 401);
});

t.test("the accepted clock skew is 30 s: exp 29 s ago still passes, 31 s ago does not", async (t) => {
  const person = await linkedPerson();
  const now = Math.floor(clock.now().getTime() / 1000);
  const within = await signAssertion(es256, person.subject, clock, { claims: { iat: now - 60, exp: now - 29 } });
  t.equal((await federatedSignIn(app, within)).statusCode, 200);
  const beyond = await signAssertion(es256, person.subject, clock, { claims: { iat: now - 60, exp: now - 31 } });
  t.equal((await federatedSignIn(app, beyond)).statusCode, 401);
});

t.test("every wrong assertion gets the one identical 401, and the log says why without the assertion", async (t) => {
  const person = await linkedPerson();
  const now = Math.floor(clock.now().getTime() / 1000);
  const sign = (options: Parameters<typeof signAssertion>[3]) => signAssertion(es256, person.subject, clock, options);
  const impostor = await providerKey("ES256", "es-1");
  const attacker = await providerKey("ES256", "attacker");
  const good = await sign({});
  const [header, payload, signature] = good.split(".");
  const flippedPayload = Buffer.from(payload!, "base64url");
  flippedPayload[flippedPayload.length - 2]! ^= 0x01;
  const publicPem = createPublicKey({ key: es256.publicJwk as never, format: "jwk" }).export({ type: "spki", format: "pem" });

  // [what is wrong, the assertion, the reason the log must give]
  const cases: Array<[string, string, string]> = [
    ["wrong issuer", await sign({ claims: { iss: "https://evil.test" } }), "ERR_JWT_CLAIM_VALIDATION_FAILED:iss:check_failed"],
    ["wrong audience", await sign({ claims: { aud: "some-other-service" } }), "ERR_JWT_CLAIM_VALIDATION_FAILED:aud:check_failed"],
    ["expired (exp = now - 31 s)", await sign({ claims: { iat: now - 90, exp: now - 31 } }), "ERR_JWT_EXPIRED:exp:check_failed"],
    ["too old (iat beyond FEDERATED_MAX_AGE_SECONDS + tolerance)", await sign({ claims: { iat: now - 400, exp: now + 60 } }), "ERR_JWT_EXPIRED:iat:check_failed"],
    ["iat in the future", await sign({ claims: { iat: now + 120, exp: now + 300 } }), "ERR_JWT_CLAIM_VALIDATION_FAILED:iat:check_failed"],
    ["not yet valid (nbf = now + 60 s)", await sign({ claims: { nbf: now + 60 } }), "ERR_JWT_CLAIM_VALIDATION_FAILED:nbf:check_failed"],
    ["no exp", await sign({ omit: ["exp"] }), "ERR_JWT_CLAIM_VALIDATION_FAILED:exp:missing"],
    ["no iat", await sign({ omit: ["iat"] }), "ERR_JWT_CLAIM_VALIDATION_FAILED:iat:missing"],
    ["no sub", await sign({ omit: ["sub"] }), "ERR_JWT_CLAIM_VALIDATION_FAILED:sub:missing"],
    ["sub not a string", await sign({ claims: { sub: 42 as never } }), "malformed_sub"],
    ["typ of an access token (RFC 9068)", await sign({ header: { typ: "at+jwt" } }), "unexpected_typ"],
    ["signed by another key with the trusted kid", await signAssertion(impostor, person.subject, clock), "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"],
    ["unknown kid", await signAssertion(attacker, person.subject, clock), "ERR_JWKS_NO_MATCHING_KEY"],
    ["alg none", `${b64url({ alg: "none", typ: "JWT" })}.${b64url(claimsFor(person.subject, clock))}.`, "ERR_JOSE_ALG_NOT_ALLOWED"],
    ["HS256 with the public key as secret", await new SignJWT(claimsFor(person.subject, clock))
      .setProtectedHeader({ alg: "HS256", kid: "es-1", typ: "JWT" })
      .sign(new TextEncoder().encode(String(publicPem))), "ERR_JOSE_ALG_NOT_ALLOWED"],
    ["RS256 (a trusted key, an algorithm not in the list)", await signAssertion(rs256, person.subject, clock), "ERR_JOSE_ALG_NOT_ALLOWED"],
    ["embedded jwk header", await signAssertion(attacker, person.subject, clock, { header: { jwk: attacker.publicJwk } }), "forbidden_header_jwk"],
    ["jku header", await signAssertion(attacker, person.subject, clock, { header: { jku: "https://attacker.test/jwks.json" } }), "forbidden_header_jku"],
    ["x5u header", await sign({ header: { x5u: "https://attacker.test/cert.pem" } }), "forbidden_header_x5u"],
    ["x5c header", await sign({ header: { x5c: ["MIIB"] } }), "forbidden_header_x5c"],
    ["crit header", await new SignJWT(claimsFor(person.subject, clock))
      .setProtectedHeader({ alg: "ES256", kid: "es-1", typ: "JWT", crit: ["urn:test:ext"], "urn:test:ext": true })
      .sign(es256.privateKey, { crit: { "urn:test:ext": true } }), "forbidden_header_crit"],
    ["kid path traversal", await sign({ header: { kid: "../../x" } }), "ERR_JWKS_NO_MATCHING_KEY"],
    ["kid SQL", await sign({ header: { kid: "' OR 1=1--" } }), "malformed_kid"],
    ["one payload bit flipped", `${header}.${flippedPayload.toString("base64url")}.${signature}`, "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"],
    ["signature stripped", `${header}.${payload}.`, "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"],
    ["unknown subject", await signAssertion(es256, "nobody-linked-this", clock), "unknown_subject"],
  ];

  for (const [name, assertion, reason] of cases) {
    const res = await federatedSignIn(app, assertion);
    t.equal(res.statusCode, 401, `${name}: ${res.body}`);
    t.same(publicPart(res.json()), EXPECTED_401, `${name}: the same problem, no detail`);
    t.equal(refusalReason(res.json().instance), reason, `${name}: refused for that reason, which only the log tells`);
  }
  t.same(network.calls, [], "no header (jku, x5u) made the service fetch anything");

  const text = logs.lines.join("\n");
  for (const [name, assertion] of cases) t.notOk(text.includes(assertion.split(".")[1]!), `${name}: neither the assertion nor its payload is logged`);
  t.equal((await federatedSignIn(app, good)).statusCode, 200, "and the good one still works");
});

t.test("malformed bodies are refused by the schema: not a compact JWS, too long, extra fields", async (t) => {
  const person = await linkedPerson();
  const tooLong = await signAssertion(es256, person.subject, clock, { claims: { pad: "x".repeat(8200) } });
  for (const payload of [{ assertion: "not-a-jwt" }, { assertion: tooLong }, { assertion: "a.b.c", extra: 1 }, {}]) {
    const res = await app.inject({ method: "POST", url: "/v1/auth/federated", payload });
    t.equal(res.statusCode, 400, res.body);
    t.equal(res.json().code, "VALIDATION_FAILED");
  }
});

t.test("audit: success and failures are recorded with method federated, never with the assertion", async (t) => {
  const person = await linkedPerson();
  const good = await signAssertion(es256, person.subject, clock);
  const wrongAudience = await signAssertion(es256, person.subject, clock, { claims: { aud: "elsewhere" } });
  const unknown = await signAssertion(es256, "unlinked-subject", clock);
  await federatedSignIn(app, good);
  await federatedSignIn(app, wrongAudience);
  await federatedSignIn(app, unknown);

  const events = await app.database.prisma.auditEvent.findMany({ where: { type: { in: ["authn_login_success", "authn_login_fail"] } } });
  const success = events.filter((e) => e.type === "authn_login_success" && e.subjectUserId === person.id);
  t.equal(success.length, 1);
  t.same((success[0]!.details as { amr: string[] }).amr, ["ext", "mfa"]);
  const failures = events.filter((e) => e.type === "authn_login_fail").map((e) => e.details as Record<string, unknown>);
  t.ok(failures.some((d) => d.method === "federated" && d.reason === "invalid_assertion"));
  t.ok(failures.some((d) => d.method === "federated" && d.reason === "unknown_subject"));
  const stored = JSON.stringify(events);
  for (const assertion of [good, wrongAudience, unknown]) {
    t.notOk(stored.includes(assertion), "no assertion in the audit log");
    t.notOk(stored.includes(assertion.split(".")[2]!), "not even its signature");
  }
  t.notOk(stored.includes(person.subject), "nor the subject, which may carry a national identity number");
});

t.test("nothing in this file reached the network: keys come from the file alone", async (t) => {
  t.same(network.calls, []);
});

t.test("SJ-09: a disabled account's valid assertion is refused with 403 ACCOUNT_DISABLED", async (t) => {
  const person = await linkedPerson();
  const apiKey = await createApiKey(app, ["users:write"]);
  t.equal((await app.inject({ method: "POST", url: `/v1/users/${person.id}/disable`, headers: { "x-api-key": apiKey } })).statusCode, 204);
  const res = await federatedSignIn(app, await signAssertion(es256, person.subject, clock));
  t.equal(res.statusCode, 403);
  t.equal(res.json().code, "ACCOUNT_DISABLED");
});
