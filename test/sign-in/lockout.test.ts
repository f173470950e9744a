// Lockout that an attacker cannot turn into a denial of service (issue 14;
// checklist RL-01, RL-05, RL-07, AV-08): waits are per account *and* address,
// a slower account-wide counter spares sign-ins with a trusted device, and the
// NIST hard cap disables the password durably until a support unlock.
import t from "tap";
import { randomBytes } from "node:crypto";
import { manualClock } from "../helpers/clock.ts";
import type { App } from "../../src/http/app-type.ts";
import { TEST_PASSWORD, createApiKey, createUser, sharedDatabase, startApp } from "../helpers/app.ts";
import { enrolledUser, mfaToken, totpAt, verify } from "../helpers/mfa.ts";

const FREE = 3;
const ACCOUNT_FREE = 10;
const MAX_WAIT = 900;
const CAP = 40;
const clock = manualClock(new Date("2026-11-28T10:00:05Z"));
const database = await sharedDatabase(t);
const config = { LOGIN_FREE_FAILURES: FREE, LOGIN_ACCOUNT_FREE_FAILURES: ACCOUNT_FREE, LOGIN_MAX_WAIT_SECONDS: MAX_WAIT, LOGIN_FAILURE_CAP: CAP };
const app: App = await startApp(t, { database, clock, config });

const WRONG = "definitely not the password";
const email = (label: string) => `${label}-${randomBytes(4).toString("hex")}@example.com`;
let addressSeq = 0;
const freshAddress = () => `203.0.113.${++addressSeq % 250}`;
type Res = Awaited<ReturnType<App["inject"]>>;
const canonical = (res: Res) => res.body.replace(res.json().instance, "<instance>");

const attempt = (on: App, address: string, password: string, extra: Record<string, unknown> = {}) =>
  on.inject({ method: "POST", url: "/v1/auth/login", remoteAddress: address, payload: { password, ...extra } });

t.test("AV-08: an attacker failing from many addresses holds the victim at most LOGIN_MAX_WAIT_SECONDS, and never on a trusted device", async (t) => {
  const victim = await enrolledUser(app, clock.now);
  clock.advance(30_000);
  const home = freshAddress();
  const device = await verify(app, { mfaToken: await mfaToken(app, victim.email), method: "totp", code: totpAt(victim.secret, clock.now()), rememberDevice: true });
  const deviceToken = device.json().deviceToken as string;
  let longestWait = 0;
  let deviceSignIns = 0;
  // A day of an attacker on 50 addresses guessing whenever a wait ends, while the owner signs in now and then.
  for (let round = 0; round < 12; round++) {
    for (let a = 0; a < 50; a++) await attempt(app, `192.0.2.${a + 1}`, `${WRONG} ${round}-${a}`, { email: victim.email });
    const plain = await attempt(app, home, TEST_PASSWORD, { email: victim.email });
    if (plain.statusCode === 429) longestWait = Math.max(longestWait, Number(plain.headers["retry-after"]));
    const withDevice = await attempt(app, home, TEST_PASSWORD, { email: victim.email, deviceToken });
    t.equal(withDevice.statusCode, 200, `round ${round}: the owner's trusted device signs in`);
    if (withDevice.statusCode === 200) deviceSignIns++;
    clock.advance(MAX_WAIT * 1000);
  }
  t.ok(longestWait > 0, "the account-wide wait does hold sign-ins without a device");
  t.ok(longestWait <= MAX_WAIT, `the victim's longest wait ${longestWait} s is within the documented ${MAX_WAIT} s`);
  t.equal(deviceSignIns, 12, "every sign-in on the trusted device went through: the owner's successes keep the hard cap away");
  t.equal((await database.prisma.user.findUniqueOrThrow({ where: { id: victim.id } })).passwordLockedAt, null, "not disabled");
});

t.test("AV-08: one address's waits hold only that address while the account-wide counter is below its threshold", async (t) => {
  const user = await createUser(app, email("local"));
  const attacker = freshAddress();
  for (let i = 0; i < FREE + 1; i++) t.equal((await attempt(app, attacker, WRONG, { email: user.email })).statusCode, 401);
  t.equal((await attempt(app, attacker, TEST_PASSWORD, { email: user.email })).statusCode, 429, "the guessing address waits");
  t.equal((await attempt(app, freshAddress(), TEST_PASSWORD, { email: user.email })).statusCode, 200, "the person elsewhere does not");
});

t.test(`RL-01: ${CAP} consecutive wrong passwords disable the password; then the right one gets the generic 401, durably, until a support unlock`, async (t) => {
  const user = await createUser(app, email("cap"));
  let last: Res | undefined;
  for (let i = 0; i < CAP; i++) {
    clock.advance(MAX_WAIT * 1000); // the fake clock skips every wait
    last = await attempt(app, freshAddress(), `${WRONG} ${i}`, { email: user.email });
    t.equal(last.statusCode, 401, `failure ${i + 1}`);
  }
  clock.advance(MAX_WAIT * 1000);
  const right = await attempt(app, freshAddress(), TEST_PASSWORD, { email: user.email });
  t.equal(right.statusCode, 401, "the right password no longer signs in");
  t.equal(canonical(right), canonical(last!), "with the wrong password's answer (RL-07)");
  const events = await database.prisma.auditEvent.findMany({ where: { subjectUserId: user.id, type: "authn_login_fail_max" } });
  t.equal(events.length, 1, "authn_login_fail_max is audited once");

  // Another instance on the same database: the state survives a restart.
  const restarted = await startApp(t, { database, clock, config: { ...config, MIGRATE_ON_START: false } });
  clock.advance(MAX_WAIT * 1000);
  t.equal((await attempt(restarted, freshAddress(), TEST_PASSWORD, { email: user.email })).statusCode, 401, "still disabled on a fresh instance");

  const support = await createApiKey(app, ["users:write"]);
  const readOnly = await createApiKey(app, ["users:read"]);
  t.equal((await app.inject({ method: "POST", url: `/v1/users/${user.id}/unlock`, headers: { "x-api-key": readOnly } })).statusCode, 403, "needs users:write");
  t.equal((await app.inject({ method: "POST", url: `/v1/users/${randomUUIDish()}/unlock`, headers: { "x-api-key": support } })).statusCode, 404);
  t.equal((await app.inject({ method: "POST", url: "/v1/users/not-a-uuid/unlock", headers: { "x-api-key": support } })).statusCode, 400);
  const unlock = await app.inject({ method: "POST", url: `/v1/users/${user.id}/unlock`, headers: { "x-api-key": support } });
  t.equal(unlock.statusCode, 204);
  t.equal((await attempt(restarted, freshAddress(), TEST_PASSWORD, { email: user.email })).statusCode, 200, "after the unlock it signs in");
  t.equal(await database.prisma.auditEvent.count({ where: { subjectUserId: user.id, type: "password_unlocked" } }), 1, "the unlock is audited");
});

t.test("RL-05: a success resets the consecutive count: failures either side of it never reach the cap", async (t) => {
  const user = await createUser(app, email("reset"));
  const fail = async (n: number) => {
    for (let i = 0; i < n; i++) {
      clock.advance(MAX_WAIT * 1000);
      await attempt(app, freshAddress(), WRONG, { email: user.email });
    }
  };
  await fail(CAP - 5);
  clock.advance(MAX_WAIT * 1000);
  t.equal((await attempt(app, freshAddress(), TEST_PASSWORD, { email: user.email })).statusCode, 200);
  await fail(CAP - 1);
  clock.advance(MAX_WAIT * 1000);
  t.equal((await attempt(app, freshAddress(), TEST_PASSWORD, { email: user.email })).statusCode, 200, "not disabled");
});

function randomUUIDish() {
  return "00000000-0000-4000-8000-" + randomBytes(6).toString("hex");
}
