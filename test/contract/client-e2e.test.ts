// The typed client (clients/typescript) against the real service: buildApp on
// a real database, listening on a port, driven over HTTP by openapi-fetch with
// the types generated from the committed document. Each sign-in outcome is
// narrowed by `status` as a frontend would; a wrong answer type would not compile.
import t, { type Test } from "tap";
import type { AddressInfo } from "node:net";
import { apiKey, bearer, createIdentityClient, type IdentityClient } from "../../clients/typescript/src/index.ts";
import { createApiKey, startApp, TEST_PASSWORD } from "../helpers/app.ts";
import { manualClock } from "../helpers/clock.ts";
import { companyKit } from "../helpers/companies.ts";
import { totpAt } from "../helpers/mfa.ts";

async function listening(t: Test) {
  const clock = manualClock();
  const app = await startApp(t, { clock });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const { port } = app.server.address() as AddressInfo;
  return { app, clock, client: createIdentityClient({ baseUrl: `http://127.0.0.1:${port}` }) };
}

async function newUser(client: IdentityClient, key: string, email: string) {
  const { data, error, response } = await client.POST("/v1/users", {
    headers: apiKey(key),
    body: { email, password: TEST_PASSWORD, name: "Ada Lovelace" },
  });
  if (!data) throw new Error(`create user: ${response.status} ${JSON.stringify(error)}`);
  return data;
}

t.test("the typed client drives sign-in, the second step, refresh, /v1/me and a service call", async (t) => {
  const { app, clock, client } = await listening(t);
  const key = await createApiKey(app, ["users:write", "users:read"]);

  // A service call with the API key: 201 and the typed user.
  const created = await newUser(client, key, "ada.client@example.com");
  t.equal(created.email, "ada.client@example.com", "POST /v1/users answers the created user");

  // A problem is typed too: the code is one the operation declares.
  const wrong = await client.POST("/v1/auth/login", { body: { email: created.email, password: "not the password at all" } });
  t.equal(wrong.response.status, 401);
  t.equal(wrong.error?.code, "INVALID_CREDENTIALS", "the 401 problem's code, typed from the document");
  t.equal(wrong.response.headers.get("content-type"), "application/problem+json; charset=utf-8");

  // Outcome 1: authenticated.
  const first = await client.POST("/v1/auth/login", { body: { email: created.email, password: TEST_PASSWORD } });
  if (first.data?.status !== "authenticated") return t.fail(`expected authenticated, got ${JSON.stringify(first.data ?? first.error)}`);
  const session = first.data; // narrowed: TokenAnswer
  t.match(session.accessToken, /^eyJ/, "an access token");
  t.ok(session.refreshToken, "a refresh token");

  const me = await client.GET("/v1/me", { headers: bearer(session.accessToken) });
  t.equal(me.data?.id, created.id, "GET /v1/me with the access token");
  t.equal(me.data?.security?.twoStepEnabled, false, "with the security state");

  const refreshed = await client.POST("/v1/auth/refresh", { body: { refreshToken: session.refreshToken! } });
  t.equal(refreshed.data?.status, "authenticated", "POST /v1/auth/refresh answers a token answer");
  t.not(refreshed.data?.refreshToken, session.refreshToken, "with a new refresh token");
  const spent = await client.POST("/v1/auth/refresh", { body: { refreshToken: "rt_not-a-token" } });
  t.equal(spent.error?.code, "INVALID_REFRESH_TOKEN");

  // Set up TOTP through the client, so the next sign-in needs the second step.
  const enroll = await client.POST("/v1/me/mfa/totp", { headers: bearer(session.accessToken) });
  if (!enroll.data) return t.fail(`enrollment start: ${JSON.stringify(enroll.error)}`);
  const secret = new URL(enroll.data.otpauthUri).searchParams.get("secret")!;
  const confirmed = await client.POST("/v1/me/mfa/totp/confirm", { headers: bearer(session.accessToken), body: { code: totpAt(secret, clock.now()) } });
  t.equal(confirmed.data?.recoveryCodes.length, 1, "confirmed, with the recovery code");
  clock.advance(30_000);

  // Outcome 2: mfa_required, then the second step.
  const second = await client.POST("/v1/auth/login", { body: { email: created.email, password: TEST_PASSWORD } });
  if (second.data?.status !== "mfa_required") return t.fail(`expected mfa_required, got ${JSON.stringify(second.data ?? second.error)}`);
  t.ok(second.data.methods.includes("totp"), "narrowed to MfaRequired: its methods");
  const verified = await client.POST("/v1/auth/mfa/verify", {
    body: { mfaToken: second.data.mfaToken, method: "totp", code: totpAt(secret, clock.now()) },
  });
  if (verified.data?.status !== "authenticated") return t.fail(`expected authenticated, got ${JSON.stringify(verified.error)}`);
  const security = await client.GET("/v1/users/{id}/security", { params: { path: { id: created.id } }, headers: apiKey(key) });
  t.equal(security.data?.twoStepEnabled, true, "a service reads the security state with its API key");
  const after = await client.GET("/v1/me", { headers: bearer(verified.data.accessToken) });
  t.equal(after.data?.security?.methods.includes("totp"), true, "the second step's session works on /v1/me");
});

t.test("the typed client narrows mfa_enrollment_required under a company mandate", async (t) => {
  const { app, client } = await listening(t);
  const key = await createApiKey(app, ["users:write"]);
  const user = await newUser(client, key, "grace.client@example.com");
  const kit = await companyKit(app);
  const company = await kit.company("Mandating AB");
  await kit.setPolicy(company.id, true);
  await kit.member(company.id, user.id);

  const answer = await client.POST("/v1/auth/login", { body: { email: user.email, password: TEST_PASSWORD } });
  if (answer.data?.status !== "mfa_enrollment_required") return t.fail(`expected mfa_enrollment_required, got ${JSON.stringify(answer.data ?? answer.error)}`);
  t.same(answer.data.requiredBy.map((source) => source.companyName), ["Mandating AB"], "narrowed to EnrollmentRequired: who requires it");
  const start = await client.POST("/v1/me/mfa/totp", { headers: bearer(answer.data.enrollmentToken) });
  t.ok(start.data?.otpauthUri.startsWith("otpauth://totp/"), "the enrollment token starts enrollment");
});
