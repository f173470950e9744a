// Recovery-code regeneration and "remember this device" under the checklist's
// rules RC-08, SJ-15, DT-05 and DT-08 (issue: security hardening).
import t from "tap";
import { manualClock } from "../helpers/clock.ts";
import { bearer, login, startApp } from "../helpers/app.ts";
import { enrolledUser, mfaToken, totpAt, verify } from "../helpers/mfa.ts";
import { companyKit } from "../helpers/companies.ts";

const clock = manualClock(new Date("2026-11-28T10:00:05Z"));
const app = await startApp(t, { clock, config: { MFA_FREE_FAILURES: 50, MFA_FAILURE_CAP: 100 } });
const kit = await companyKit(app);

/** Moves to a fresh 30 s step so every code is new. */
const freshCode = (secret: string) => { clock.advance(30_000); return totpAt(secret, clock.now()); };

async function rememberedSession(user: { email: string; secret: string }) {
  const done = await verify(app, { mfaToken: await mfaToken(app, user.email), method: "totp", code: freshCode(user.secret), rememberDevice: true, deviceName: "Laptop" });
  t.equal(done.statusCode, 200, done.body);
  return done.json() as { accessToken: string; deviceToken?: string };
}

const skipsSecondStep = async (email: string, deviceToken: string) => (await login(app, email, undefined, { deviceToken })).json().status === "authenticated";
const regenerate = (accessToken: string, code: string) =>
  app.inject({ method: "POST", url: "/v1/me/mfa/recovery-codes", headers: bearer(accessToken), payload: { code } });

t.test("RC-08/SJ-15: recovery codes cannot be regenerated from a remembered-device session or a stale second step", async (t) => {
  const user = await enrolledUser(app, clock.now);
  const { deviceToken } = await rememberedSession(user);
  const viaDevice = (await login(app, user.email, undefined, { deviceToken })).json();
  t.equal(viaDevice.status, "authenticated", "the device skips the second step");
  const fromDevice = await regenerate(viaDevice.accessToken, freshCode(user.secret));
  t.equal(fromDevice.statusCode, 403);
  t.equal(fromDevice.json().code, "SECOND_FACTOR_REQUIRED", "a remembered device is not a fresh second step");

  const session = await rememberedSession(user);
  clock.advance(5 * 60_000 + 1_000);
  const stale = await regenerate(session.accessToken, freshCode(user.secret));
  t.equal(stale.statusCode, 403);
  t.equal(stale.json().code, "REAUTHENTICATION_REQUIRED", "a second step more than 5 minutes old is not fresh");
  t.equal((await useOldCode(user)).statusCode, 200, "the refused attempts left the recovery code working");
});

async function useOldCode(user: { email: string; recoveryCodes: string[] }) {
  return verify(app, { mfaToken: await mfaToken(app, user.email), method: "recovery_code", code: user.recoveryCodes[0]! });
}

t.test("DT-05: regenerating recovery codes revokes every trusted device", async (t) => {
  const user = await enrolledUser(app, clock.now);
  const { deviceToken } = await rememberedSession(user);
  t.ok(await skipsSecondStep(user.email, deviceToken!), "the device is trusted");
  const session = await rememberedSession(user);
  const issued = await regenerate(session.accessToken, freshCode(user.secret));
  t.equal(issued.statusCode, 200, issued.body);
  t.notOk(await skipsSecondStep(user.email, deviceToken!), "after regeneration the device asks for the second step again");
  t.notOk(await skipsSecondStep(user.email, session.deviceToken!), "every device, the current one too");
});

t.test("DT-08: a company that turns device trust off makes the next sign-in ask for the second step, and issues no new device token", async (t) => {
  const C = await kit.company("No Remembering AB");
  const user = await enrolledUser(app, clock.now);
  await kit.member(C.id, user.id);
  const { deviceToken } = await rememberedSession(user);
  t.ok(await skipsSecondStep(user.email, deviceToken!));

  const off = await app.inject({ method: "PUT", url: `/v1/companies/${C.id}/security-policy`, headers: kit.headers, payload: { mandatoryTwoFactor: false, rememberDeviceDays: 0 } });
  t.equal(off.statusCode, 200, off.body);
  t.equal(off.json().rememberDeviceDays, 0);
  t.notOk(await skipsSecondStep(user.email, deviceToken!), "the device token no longer skips the second step");
  const again = await rememberedSession(user);
  t.notOk(again.deviceToken, "no new device token while the company forbids it");

  const unchanged = await app.inject({ method: "PUT", url: `/v1/companies/${C.id}/security-policy`, headers: kit.headers, payload: { mandatoryTwoFactor: true } });
  t.equal(unchanged.json().rememberDeviceDays, 0, "a policy change that does not name it leaves it as it was");
});

t.test("DT-08: a shorter period ends older devices at once, and the strictest company reaching the person wins, also through an office assignment", async (t) => {
  const office = await kit.office("Strict Accountants");
  const client = await kit.company("Client with 7 days");
  const lenient = await kit.company("Lenient Ltd");
  await kit.serve(office.id, client.id);
  const user = await enrolledUser(app, clock.now);
  await kit.member(office.id, user.id);
  await kit.member(lenient.id, user.id);
  await kit.assign(office.id, client.id, user.id);
  const setDays = (companyId: string, days: number | null) =>
    app.inject({ method: "PUT", url: `/v1/companies/${companyId}/security-policy`, headers: kit.headers, payload: { mandatoryTwoFactor: false, rememberDeviceDays: days } });

  const { deviceToken } = await rememberedSession(user);
  t.equal((await setDays(lenient.id, 20)).statusCode, 200);
  clock.advance(8 * 86_400_000);
  t.ok(await skipsSecondStep(user.email, deviceToken!), "8 days old: within the lenient company's 20");
  t.equal((await setDays(client.id, 7)).statusCode, 200);
  t.notOk(await skipsSecondStep(user.email, deviceToken!), "the client's 7 days reach its assignee and win");

  const { deviceToken: newer } = await rememberedSession(user);
  clock.advance(6 * 86_400_000);
  t.ok(await skipsSecondStep(user.email, newer!), "a 6-day-old device still skips");
  clock.advance(2 * 86_400_000);
  t.notOk(await skipsSecondStep(user.email, newer!), "at 8 days it no longer does");
});
