// Tenant isolation on every company route (checklist CP-04, ASVS 8.2.2, 8.4.1):
// an admin of one company can neither read nor change another company's
// members, relations, assignments, policy, impact or audit events; company
// admins may do what API.md lets them do in their own company, plain members
// nothing, service clients only with companies:write.
import t from "tap";
import { manualClock } from "../helpers/clock.ts";
import { bearer, startApp } from "../helpers/app.ts";
import { verify } from "../helpers/mfa.ts";
import { companyAdmin, companyKit, freshCode, loginAnswer, person, personWithTotp, serviceClient, signIn } from "../helpers/companies.ts";

const clock = manualClock(new Date("2026-11-28T10:00:05Z"));

type Method = "GET" | "PUT" | "DELETE" | "POST";
interface Call {
  name: string;
  method: Method;
  url: string;
  payload?: object;
  /** API.md: only a service client with companies:write (no company admin). */
  serviceOnly?: boolean;
  /** API.md: only a company admin (no service client). */
  adminOnly?: boolean;
}

t.test("tenant isolation", async (t) => {
  const app = await startApp(t, { clock });
  const kit = await companyKit(app);

  const X = await kit.office("Office X");
  const XC = await kit.company("X's Client");
  const Y = await kit.office("Office Y");
  const YC = await kit.company("Y's Client");
  await kit.serve(X.id, XC.id);
  await kit.serve(Y.id, YC.id);
  const xStaff = await person(app);
  const xNewcomer = await person(app);
  const yStaff = await person(app);
  const yMember = await person(app);
  const ycMember = await person(app);
  await kit.member(X.id, xStaff.id);
  await kit.member(Y.id, yStaff.id);
  await kit.assign(Y.id, YC.id, yStaff.id);
  await kit.member(Y.id, yMember.id);
  await kit.member(YC.id, ycMember.id);
  const plainOfX = await person(app);
  await kit.member(X.id, plainOfX.id, "user");
  const adminOfXC = await companyAdmin(app, clock, kit, XC.id);
  const adminOfX = await companyAdmin(app, clock, kit, X.id);
  const plainSession = await signIn(app, clock, plainOfX);

  const routes = (office: string, client: string, company: string, user: string, assignee: string): Call[] => [
    { name: "PUT members", method: "PUT", url: `/v1/companies/${company}/members/${user}`, payload: { role: "admin" } },
    { name: "DELETE members", method: "DELETE", url: `/v1/companies/${company}/members/${user}` },
    { name: "PUT clients", method: "PUT", url: `/v1/companies/${office}/clients/${client}`, serviceOnly: true },
    { name: "DELETE clients", method: "DELETE", url: `/v1/companies/${office}/clients/${client}`, serviceOnly: true },
    { name: "PUT assignees", method: "PUT", url: `/v1/companies/${office}/clients/${client}/assignees/${assignee}` },
    { name: "DELETE assignees", method: "DELETE", url: `/v1/companies/${office}/clients/${client}/assignees/${assignee}` },
    { name: "GET security-policy", method: "GET", url: `/v1/companies/${company}/security-policy` },
    { name: "PUT security-policy", method: "PUT", url: `/v1/companies/${company}/security-policy`, payload: { mandatoryTwoFactor: true } },
    { name: "GET security-policy/impact", method: "GET", url: `/v1/companies/${company}/security-policy/impact` },
    { name: "GET audit-events", method: "GET", url: `/v1/companies/${company}/audit-events`, adminOnly: true },
  ];
  const send = (call: Call, headers: Record<string, string>) =>
    app.inject({ method: call.method, url: call.url, headers, ...(call.payload ? { payload: call.payload } : {}) });

  /** Everything about Y and its client that a refused call could have changed. */
  async function stateOfY() {
    const prisma = app.database.prisma;
    const ids = [Y.id, YC.id];
    return {
      policies: await Promise.all(ids.map((id) => kit.policy(id))),
      impact: await Promise.all(ids.map(async (id) => (await kit.impact(id)).people.map((p) => [p.userId, p.via]).sort())),
      memberships: await prisma.membership.findMany({ where: { companyId: { in: ids } }, select: { companyId: true, userId: true, role: true }, orderBy: [{ companyId: "asc" }, { userId: "asc" }] }),
      relations: await prisma.officeClient.findMany({ where: { OR: [{ officeId: { in: ids } }, { clientId: { in: ids } }] }, select: { officeId: true, clientId: true }, orderBy: { officeId: "asc" } }),
      assignments: await prisma.assignment.findMany({ where: { OR: [{ officeId: { in: ids } }, { clientId: { in: ids } }] }, select: { officeId: true, clientId: true, userId: true } }),
    };
  }

  await t.test("an admin of X is refused on every route with Y's ids, and nothing changes", async (t) => {
    const before = await stateOfY();
    const crossTenant: Call[] = [
      ...routes(Y.id, YC.id, Y.id, yMember.id, yStaff.id),
      ...routes(Y.id, YC.id, YC.id, ycMember.id, yStaff.id).filter((c) => !c.name.includes("clients") && !c.name.includes("assignees")),
      { name: "PUT members: adopt myself into Y", method: "PUT", url: `/v1/companies/${Y.id}/members/${adminOfX.id}`, payload: { role: "admin" } },
      { name: "PUT members: my staff into Y", method: "PUT", url: `/v1/companies/${Y.id}/members/${xStaff.id}`, payload: { role: "user" } },
      { name: "PUT clients: take Y's client", method: "PUT", url: `/v1/companies/${X.id}/clients/${YC.id}`, serviceOnly: true },
      { name: "PUT clients: become Y's client", method: "PUT", url: `/v1/companies/${Y.id}/clients/${X.id}`, serviceOnly: true },
      { name: "PUT assignees: Y's staff on Y's client", method: "PUT", url: `/v1/companies/${Y.id}/clients/${YC.id}/assignees/${yMember.id}` },
      { name: "PUT security-policy: turn it off", method: "PUT", url: `/v1/companies/${Y.id}/security-policy`, payload: { mandatoryTwoFactor: false } },
    ];
    for (const call of crossTenant) {
      const res = await send(call, adminOfX.headers);
      if (call.serviceOnly) t.ok([401, 403].includes(res.statusCode), `${call.name} ${call.url}: refused (${res.statusCode}): ${res.body}`);
      else t.ok([403, 404].includes(res.statusCode), `${call.name} ${call.url}: 403/404 (${res.statusCode}): ${res.body}`);
      t.notOk(res.body.includes(yMember.email) || res.body.includes(ycMember.email), `${call.name}: no one of Y's people in the answer`);
    }
    // Mixing X's office with Y's client or Y's person.
    const mixed = [
      { name: "my office, Y's client", method: "PUT" as const, url: `/v1/companies/${X.id}/clients/${YC.id}/assignees/${xStaff.id}` },
      { name: "my office, Y's client (remove)", method: "DELETE" as const, url: `/v1/companies/${X.id}/clients/${YC.id}/assignees/${yStaff.id}` },
      { name: "my office and client, Y's person", method: "PUT" as const, url: `/v1/companies/${X.id}/clients/${XC.id}/assignees/${yStaff.id}` },
    ];
    for (const call of mixed) {
      const res = await send(call, adminOfX.headers);
      t.ok([403, 404, 409].includes(res.statusCode), `${call.name}: refused (${res.statusCode})`);
    }
    t.same(await stateOfY(), before, "Y's policy, members, relations and assignments are as they were");
    t.equal((await loginAnswer(app, yMember)).json().status, "authenticated", "Y's people are not under a mandate");
  });

  await t.test("an admin of X may do in X what API.md lets company admins do", async (t) => {
    for (const call of routes(X.id, XC.id, X.id, xNewcomer.id, xNewcomer.id)) {
      if (call.serviceOnly) continue;
      if (call.name === "PUT assignees") {
        await kit.member(X.id, xNewcomer.id); // assignees must be office members
      }
      const res = await send(call.name === "PUT members" ? { ...call, payload: { role: "user" } } : call, adminOfX.headers);
      t.ok([200, 204].includes(res.statusCode), `${call.name}: ${res.statusCode} ${res.body}`);
    }
    const policy = await kit.policy(X.id);
    t.equal(policy.mandatoryTwoFactor, true, "the admin's policy change took effect");
    await kit.setPolicy(X.id, false);

    // Relations between companies are the service clients' business.
    const clientRoute = await send({ name: "PUT clients", method: "PUT", url: `/v1/companies/${X.id}/clients/${YC.id}` }, adminOfX.headers);
    t.ok([401, 403].includes(clientRoute.statusCode), `PUT clients by an admin: ${clientRoute.statusCode}`);
    const dropClient = await send({ name: "DELETE clients", method: "DELETE", url: `/v1/companies/${X.id}/clients/${XC.id}` }, adminOfX.headers);
    t.ok([401, 403].includes(dropClient.statusCode), `DELETE clients by an admin: ${dropClient.statusCode}`);

    // The client's admin runs the client, not the office's assignments on it.
    t.equal((await send({ name: "", method: "PUT", url: `/v1/companies/${XC.id}/security-policy`, payload: { mandatoryTwoFactor: false } }, adminOfXC.headers)).statusCode, 200);
    t.equal((await send({ name: "", method: "GET", url: `/v1/companies/${XC.id}/security-policy/impact` }, adminOfXC.headers)).statusCode, 200);
    t.equal((await send({ name: "", method: "PUT", url: `/v1/companies/${X.id}/clients/${XC.id}/assignees/${xStaff.id}` }, adminOfXC.headers)).statusCode, 403);
    t.equal((await send({ name: "", method: "PUT", url: `/v1/companies/${X.id}/members/${xNewcomer.id}`, payload: { role: "admin" } }, adminOfXC.headers)).statusCode, 403);
    t.equal((await send({ name: "", method: "GET", url: `/v1/companies/${X.id}/audit-events` }, adminOfXC.headers)).statusCode, 403);
    // And the office's admin does not run the client.
    t.equal((await send({ name: "", method: "GET", url: `/v1/companies/${XC.id}/security-policy` }, adminOfX.headers)).statusCode, 403);
    t.equal((await send({ name: "", method: "GET", url: `/v1/companies/${XC.id}/audit-events` }, adminOfX.headers)).statusCode, 403);
  });

  await t.test("a plain member, a service client without companies:write, and no credentials are refused", async (t) => {
    const usersOnly = await serviceClient(app, ["users:read", "users:write", "users:mfa-reset", "tokens:introspect"]);
    const all = [
      ...routes(X.id, XC.id, X.id, xStaff.id, xStaff.id),
      { name: "POST companies", method: "POST" as const, url: "/v1/companies", payload: { name: "Sneaky AB", kind: "company" }, serviceOnly: true },
    ];
    const before = await app.database.prisma.membership.count();
    for (const call of all) {
      const plain = await send(call, bearer(plainSession.accessToken));
      if (call.serviceOnly) t.ok([401, 403].includes(plain.statusCode), `plain member, ${call.name}: ${plain.statusCode}`);
      else t.equal(plain.statusCode, 403, `plain member, ${call.name}: ${plain.body}`);

      const scoped = await send(call, usersOnly.headers);
      if (call.adminOnly) t.equal(scoped.statusCode, 401, `${call.name} is for company admins only: ${scoped.body}`);
      else {
        t.equal(scoped.statusCode, 403, `service client without companies:write, ${call.name}: ${scoped.body}`);
        t.equal(scoped.json().code, "INSUFFICIENT_SCOPE");
      }

      const anonymous = await send(call, {});
      t.equal(anonymous.statusCode, 401, `no credentials, ${call.name}: ${anonymous.body}`);
      const bogus = await send(call, { "x-api-key": "isk_not-a-key" });
      t.equal(bogus.statusCode, 401, `a wrong API key, ${call.name}`);
    }
    t.equal(await app.database.prisma.membership.count(), before);
    t.equal((await kit.policy(X.id)).mandatoryTwoFactor, false);
    t.equal(await app.database.prisma.company.count({ where: { name: "Sneaky AB" } }), 0);
  });

  await t.test("changing the policy needs a recent sign-in that passed the second step (CP-04)", async (t) => {
    const Z = await kit.company("Zeta AB");
    const put = (headers: Record<string, string>) =>
      app.inject({ method: "PUT", url: `/v1/companies/${Z.id}/security-policy`, headers, payload: { mandatoryTwoFactor: true } });
    /** Each refused attempt must leave the policy off; it is put back if not, so one failure does not hide the next. */
    const unchanged = async (what: string) => {
      const changed = (await kit.policy(Z.id)).mandatoryTwoFactor;
      t.equal(changed, false, `${what}: the policy is unchanged`);
      if (changed) await kit.setPolicy(Z.id, false);
    };

    const passwordOnly = await companyAdmin(app, clock, kit, Z.id, { secondFactor: false });
    const res = await put(passwordOnly.headers);
    t.equal(res.statusCode, 403, `a password-only session: ${res.body}`);
    await unchanged("password only");

    const withTotp = await personWithTotp(app, clock);
    await kit.member(Z.id, withTotp.id, "admin");
    const remembered = await signIn(app, clock, withTotp, { rememberDevice: true });
    const viaDevice = (await loginAnswer(app, withTotp, { deviceToken: remembered.deviceToken })).json();
    t.equal(viaDevice.status, "authenticated");
    const deviceRes = await put(bearer(viaDevice.accessToken));
    t.equal(deviceRes.statusCode, 403, `a trusted-device session (pwd + dt) is not a second step: ${deviceRes.body}`);
    await unchanged("trusted device");

    const fresh = await signIn(app, clock, withTotp);
    clock.advance(500_000);
    const refreshed = await app.inject({ method: "POST", url: "/v1/auth/refresh", payload: { refreshToken: fresh.refreshToken } });
    t.equal(refreshed.statusCode, 200);
    clock.advance(101_000);
    const stale = await put(bearer(refreshed.json().accessToken));
    t.equal(stale.statusCode, 403, `a sign-in older than the limit: ${stale.body}`);
    t.equal(stale.json().code, "REAUTHENTICATION_REQUIRED");
    await unchanged("stale sign-in");

    const mfa = (await loginAnswer(app, withTotp)).json();
    const ok = await verify(app, { mfaToken: mfa.mfaToken, method: "totp", code: freshCode(clock, withTotp.secret!) });
    const done = await put(bearer(ok.json().accessToken));
    t.equal(done.statusCode, 200, done.body);
    t.equal((await kit.policy(Z.id)).mandatoryTwoFactor, true);
  });
});
