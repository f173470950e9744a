// A mandate holds on every path (checklist CP-02, CP-03, CP-05, CP-06):
// trusted devices from before it no longer skip the second step, a session
// without a second factor is refused at refresh, 2SV cannot be turned off under
// it, and an optional grace deadline is announced and then enforced.
import t from "tap";
import { decodeJwt } from "jose";
import { manualClock } from "../helpers/clock.ts";
import { bearer, createApiKey, login, startApp } from "../helpers/app.ts";
import { verify } from "../helpers/mfa.ts";
import {
  companyKit, freshCode, loginAnswer, person, personWithTotp, signIn, source, type Person,
} from "../helpers/companies.ts";

const DAY = 86_400_000;
const clock = manualClock(new Date("2026-11-28T10:00:05Z"));

t.test("mandate enforcement", async (t) => {
  const app = await startApp(t, { clock });
  const kit = await companyKit(app);
  const usersRead = { "x-api-key": await createApiKey(app, ["users:read"]) };
  const security = async (who: Person) => (await app.inject({ method: "GET", url: `/v1/users/${who.id}/security`, headers: usersRead })).json();
  const refresh = (refreshToken: string) => app.inject({ method: "POST", url: "/v1/auth/refresh", payload: { refreshToken } });
  const turnOff = (who: Person, accessToken: string) =>
    app.inject({ method: "DELETE", url: "/v1/me/mfa/totp", headers: bearer(accessToken), payload: { password: who.password, code: freshCode(clock, who.secret!) } });

  await t.test("trusted devices issued before the mandate no longer skip the second step", async (t) => {
    const company = await kit.company("Devices AB");
    const who = await personWithTotp(app, clock);
    await kit.member(company.id, who.id);
    const before = await signIn(app, clock, who, { rememberDevice: true });
    t.ok(before.deviceToken);
    const skipped = (await loginAnswer(app, who, { deviceToken: before.deviceToken })).json();
    t.equal(skipped.status, "authenticated", "before the mandate the device skips");
    t.same(decodeJwt(skipped.accessToken).amr, ["pwd", "dt"]);

    clock.advance(60_000);
    await kit.setPolicy(company.id, true);
    clock.advance(60_000);
    const asked = (await loginAnswer(app, who, { deviceToken: before.deviceToken })).json();
    t.equal(asked.status, "mfa_required", "a device trusted before the mandate no longer skips");
    const after = await verify(app, { mfaToken: asked.mfaToken, method: "totp", code: freshCode(clock, who.secret!), rememberDevice: true, deviceName: "New laptop" });
    t.equal(after.statusCode, 200, "second step passed, device remembered");

    const again = (await loginAnswer(app, who, { deviceToken: after.json().deviceToken })).json();
    t.equal(again.status, "authenticated", "a device trusted after the mandate skips");
    const old = (await loginAnswer(app, who, { deviceToken: before.deviceToken })).json();
    t.equal(old.status, "mfa_required", "the old one still does not");
  });

  await t.test("a session without a second factor is refused at refresh once a mandate reaches its user", async (t) => {
    const company = await kit.company("Refresh AB");
    const plain = await person(app);
    const withTotp = await personWithTotp(app, clock);
    await kit.member(company.id, plain.id);
    await kit.member(company.id, withTotp.id);
    const plainSession = (await loginAnswer(app, plain)).json();
    t.equal(plainSession.status, "authenticated");
    const secondFactorSession = await signIn(app, clock, withTotp);
    const early = await refresh(plainSession.refreshToken);
    t.equal(early.statusCode, 200, "no mandate yet: refresh works");

    await kit.setPolicy(company.id, true);
    const refused = await refresh(early.json().refreshToken);
    t.equal(refused.statusCode, 401, refused.body);
    t.equal(refused.json().code, "INVALID_REFRESH_TOKEN");
    t.equal(
      (await app.inject({ method: "GET", url: "/v1/me", headers: bearer(early.json().accessToken) })).statusCode,
      401,
      "the refused session is ended, its access token with it",
    );
    t.equal((await refresh(secondFactorSession.refreshToken)).statusCode, 200, "a session that passed the second step goes on");
    t.equal((await loginAnswer(app, plain)).json().status, "mfa_enrollment_required", "signing in again means enrolling");

    // Through an assignment, too.
    const office = await kit.office("Refresh Office");
    const client = await kit.company("Refresh Client");
    await kit.serve(office.id, client.id);
    const staff = await person(app);
    await kit.member(office.id, staff.id);
    await kit.assign(office.id, client.id, staff.id);
    const staffSession = (await loginAnswer(app, staff)).json();
    await kit.setPolicy(client.id, true);
    t.equal((await refresh(staffSession.refreshToken)).statusCode, 401, "the client's mandate reaches its assignee's session");
  });

  await t.test("during a grace period refresh still works; after it, it does not", async (t) => {
    const company = await kit.company("Grace Refresh AB");
    const who = await person(app);
    await kit.member(company.id, who.id);
    const session = (await loginAnswer(app, who)).json();
    const deadline = new Date(clock.now().getTime() + 30 * 60_000);
    await kit.setPolicy(company.id, true, deadline.toISOString());
    clock.advance(10 * 60_000);
    const inGrace = await refresh(session.refreshToken);
    t.equal(inGrace.statusCode, 200, inGrace.body);
    clock.set(new Date(deadline.getTime() + 1000));
    const late = await refresh(inGrace.json().refreshToken);
    t.equal(late.statusCode, 401, late.body);
  });

  await t.test("turning 2SV off is refused while a policy requires it", async (t) => {
    const company = await kit.company("Keep It On AB");
    const member = await personWithTotp(app, clock);
    await kit.member(company.id, member.id);
    await kit.setPolicy(company.id, true);
    let session = await signIn(app, clock, member);
    const refused = await turnOff(member, session.accessToken);
    t.equal(refused.statusCode, 409, refused.body);
    t.equal(refused.json().code, "TWO_STEP_REQUIRED_BY_POLICY");
    t.match(refused.json().detail, /Keep It On AB/);
    t.equal((await security(member)).twoStepEnabled, true);

    await kit.setPolicy(company.id, false);
    session = await signIn(app, clock, member);
    const allowed = await turnOff(member, session.accessToken);
    t.equal(allowed.statusCode, 204, allowed.body);
    t.equal((await security(member)).twoStepEnabled, false);

    // Mandated through an assignment.
    const office = await kit.office("Keep It On Office");
    const client = await kit.company("Keep It On Client");
    await kit.serve(office.id, client.id);
    const staff = await personWithTotp(app, clock);
    await kit.member(office.id, staff.id);
    await kit.assign(office.id, client.id, staff.id);
    await kit.setPolicy(client.id, true);
    session = await signIn(app, clock, staff);
    const viaAssignment = await turnOff(staff, session.accessToken);
    t.equal(viaAssignment.statusCode, 409, viaAssignment.body);
    t.equal(viaAssignment.json().code, "TWO_STEP_REQUIRED_BY_POLICY");
    t.same((await security(staff)).requiredBy, [source(client, "assignment")]);

    await kit.unassign(office.id, client.id, staff.id);
    session = await signIn(app, clock, staff);
    const afterUnassign = await turnOff(staff, session.accessToken);
    t.equal(afterUnassign.statusCode, 204, afterUnassign.body);
  });

  await t.test("grace: a deadline is announced with the days remaining, then enforced", async (t) => {
    const company = await kit.company("Grace AB");
    const strict = await kit.company("Strict AB");
    await kit.setPolicy(strict.id, true);
    const who = await person(app);
    const both = await person(app);
    await kit.member(company.id, who.id);
    await kit.member(company.id, both.id);
    await kit.member(strict.id, both.id);

    const deadline = new Date(clock.now().getTime() + 10 * DAY);
    const policy = await kit.setPolicy(company.id, true, deadline.toISOString());
    t.equal(policy.enrollmentDeadline, deadline.toISOString());

    const res = (await loginAnswer(app, who)).json();
    t.equal(res.status, "authenticated", "may still sign in");
    t.same(res.enrollment, { requiredBy: [source(company, "membership")], deadline: deadline.toISOString(), daysRemaining: 10 });
    const me = (await app.inject({ method: "GET", url: "/v1/me", headers: bearer(res.accessToken) })).json();
    t.equal(me.security.required, true);
    t.same(me.security.requiredBy, [source(company, "membership")]);
    t.equal((await loginAnswer(app, both)).json().status, "mfa_enrollment_required", "a mandate without a deadline wins over a grace period");

    clock.advance(6 * DAY);
    t.equal((await loginAnswer(app, who)).json().enrollment?.daysRemaining, 4);
    clock.set(new Date(deadline.getTime() + 1000));
    const late = (await loginAnswer(app, who)).json();
    t.equal(late.status, "mfa_enrollment_required", "after the deadline enrollment is forced");
    t.same(late.requiredBy, [source(company, "membership")]);
    t.notOk(late.accessToken);
  });

  await t.test("a device trusted before the mandate reached the person (joined or assigned later) does not skip", async (t) => {
    // The app's clock ahead of the database's: when the mandate began to apply must come from the app's clock.
    clock.set(new Date(Date.now() + 400 * DAY));
    const mandating = await kit.company("Joined Later AB");
    await kit.setPolicy(mandating.id, true);
    const office = await kit.office("Assigned Later Office");
    const client = await kit.company("Assigned Later Client");
    await kit.serve(office.id, client.id);
    await kit.setPolicy(client.id, true);
    clock.advance(60_000);

    const joiner = await personWithTotp(app, clock);
    const staff = await personWithTotp(app, clock);
    await kit.member(office.id, staff.id);
    const joinerDevice = (await signIn(app, clock, joiner, { rememberDevice: true })).deviceToken!;
    const staffDevice = (await signIn(app, clock, staff, { rememberDevice: true })).deviceToken!;
    t.equal((await loginAnswer(app, joiner, { deviceToken: joinerDevice })).json().status, "authenticated");
    t.equal((await loginAnswer(app, staff, { deviceToken: staffDevice })).json().status, "authenticated");

    clock.advance(60_000);
    await kit.member(mandating.id, joiner.id);
    await kit.assign(office.id, client.id, staff.id);
    clock.advance(60_000);
    t.equal((await loginAnswer(app, joiner, { deviceToken: joinerDevice })).json().status, "mfa_required", "joined a mandating company after trusting the device");
    t.equal((await loginAnswer(app, staff, { deviceToken: staffDevice })).json().status, "mfa_required", "assigned to a mandating client after trusting the device");
    const res = await login(app, staff.email, staff.password);
    t.equal(res.json().status, "mfa_required");
  });
});
