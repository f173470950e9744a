import t from "tap";
import { decodeJwt } from "jose";
import { manualClock } from "../helpers/clock.ts";
import { bearer, createApiKey, createUser, login, startApp } from "../helpers/app.ts";
import { totpAt } from "../helpers/mfa.ts";

t.test("a client's mandate walks its office assignee through enrollment at the next sign-in", async (t) => {
  const clock = manualClock(new Date("2026-11-28T10:00:00Z"));
  const app = await startApp(t, { clock });
  const key = await createApiKey(app, ["companies:write"]);
  const h = { "x-api-key": key };
  const office = (await app.inject({ method: "POST", url: "/v1/companies", headers: h, payload: { name: "Office", kind: "accounting_office" } })).json();
  const client = (await app.inject({ method: "POST", url: "/v1/companies", headers: h, payload: { name: "Client AB", kind: "company" } })).json();
  const staff = await createUser(app);
  t.equal((await app.inject({ method: "PUT", url: `/v1/companies/${office.id}/members/${staff.id}`, headers: h, payload: { role: "user" } })).statusCode, 204);
  t.equal((await app.inject({ method: "PUT", url: `/v1/companies/${office.id}/clients/${client.id}`, headers: h })).statusCode, 204);
  t.equal((await app.inject({ method: "PUT", url: `/v1/companies/${office.id}/clients/${client.id}/assignees/${staff.id}`, headers: h })).statusCode, 204);
  const policy = await app.inject({ method: "PUT", url: `/v1/companies/${client.id}/security-policy`, headers: h, payload: { mandatoryTwoFactor: true } });
  t.equal(policy.statusCode, 200, policy.body);

  const res = (await login(app, staff.email)).json();
  t.equal(res.status, "mfa_enrollment_required");
  t.same(res.requiredBy, [{ companyId: client.id, companyName: "Client AB", via: "assignment" }]);
  t.equal((await app.inject({ method: "GET", url: "/v1/me", headers: bearer(res.enrollmentToken) })).statusCode, 401);
  const start = await app.inject({ method: "POST", url: "/v1/me/mfa/totp", headers: bearer(res.enrollmentToken) });
  t.equal(start.statusCode, 200, start.body);
  const secret = new URL(start.json().otpauthUri).searchParams.get("secret")!;
  const confirm = await app.inject({ method: "POST", url: "/v1/me/mfa/totp/confirm", headers: bearer(res.enrollmentToken), payload: { code: totpAt(secret, clock.now()) } });
  t.equal(confirm.statusCode, 200, confirm.body);
  t.equal(confirm.json().recoveryCodes.length, 1);
  t.same(decodeJwt(confirm.json().session.accessToken).amr, ["pwd", "otp", "mfa"]);
  const impact = await app.inject({ method: "GET", url: `/v1/companies/${client.id}/security-policy/impact`, headers: h });
  t.same(impact.json().people.map((p: { via: string; hasFactor: boolean }) => [p.via, p.hasFactor]), [["assignment", true]]);
  const events = await app.database.prisma.auditEvent.findMany({ select: { type: true } });
  t.ok(events.some((e) => e.type === "policy_changed"));
  t.ok(events.some((e) => e.type === "mfa_enrolled"));
});
