// One way to check a password (issue 14; checklist PW-07, RL-01..RL-03, LA-01):
// sign-in and every route that re-checks the current password go through the
// accounts feature's one password check, so a stolen session guesses no faster
// than sign-in allows, every wrong guess is audited, and the answer of 2SV off
// does not tell a right password from a wrong one.
import t from "tap";
import { randomBytes } from "node:crypto";
import { manualClock } from "../helpers/clock.ts";
import type { App } from "../../src/http/app-type.ts";
import { TEST_PASSWORD, bearer, startApp } from "../helpers/app.ts";
import { enrolledUser, totpAt } from "../helpers/mfa.ts";

const FREE = 3;
const clock = manualClock(new Date("2026-11-28T10:00:05Z"));
const app: App = await startApp(t, { clock, config: { LOGIN_FREE_FAILURES: FREE, MFA_FREE_FAILURES: 50 } });

let addressSeq = 0;
const freshAddress = () => `198.51.100.${++addressSeq}`;
const WRONG = "definitely not the password";
const NEW_PASSWORD = `a brand new passphrase ${randomBytes(3).toString("hex")}`;

type Res = Awaited<ReturnType<App["inject"]>>;
const canonical = (res: Res) => res.body.replace(res.json().instance, "<instance>");

interface Person { id: string; email: string; secret: string; accessToken: string }

/** The routes that take a password, each as "try this password from this address". */
const routes: Array<{ name: string; failureEvent: string; refusal: string; attempt: (p: Person, password: string, ip: string) => Promise<Res> }> = [
  {
    name: "POST /v1/auth/login",
    failureEvent: "authn_login_fail",
    refusal: "INVALID_CREDENTIALS",
    attempt: (p, password, ip) => app.inject({ method: "POST", url: "/v1/auth/login", remoteAddress: ip, payload: { email: p.email, password } }),
  },
  {
    name: "POST /v1/me/password",
    failureEvent: "reauthentication_failed",
    refusal: "INVALID_CURRENT_PASSWORD",
    attempt: (p, password, ip) => app.inject({
      method: "POST", url: "/v1/me/password", remoteAddress: ip, headers: bearer(p.accessToken), payload: { currentPassword: password, newPassword: NEW_PASSWORD },
    }),
  },
  {
    name: "DELETE /v1/me/mfa/totp",
    failureEvent: "reauthentication_failed",
    refusal: "INVALID_CURRENT_CREDENTIALS",
    attempt: (p, password, ip) => app.inject({
      method: "DELETE", url: "/v1/me/mfa/totp", remoteAddress: ip, headers: bearer(p.accessToken), payload: { password, code: totpAt(p.secret, clock.now()) },
    }),
  },
];

async function person(): Promise<Person> {
  const user = await enrolledUser(app, clock.now);
  clock.advance(30_000); // past the confirming step
  return user;
}

const auditCount = (userId: string, type: string) => app.database.prisma.auditEvent.count({ where: { subjectUserId: userId, type } });

t.test("no route lets anyone guess a password faster than sign-in does", async (t) => {
  for (const route of routes) {
    t.test(route.name, async (t) => {
      const p = await person();
      const ip = freshAddress();
      for (let i = 1; i <= FREE + 1; i++) {
        const res = await route.attempt(p, `${WRONG} ${i}`, ip);
        t.equal(res.statusCode, 401, `guess ${i}: 401`);
        t.equal(res.json().code, route.refusal, `guess ${i}: ${route.refusal}`);
      }
      const inside = await route.attempt(p, TEST_PASSWORD, ip);
      t.equal(inside.statusCode, 429, "inside the wait even the right password is refused");
      t.equal(inside.headers["retry-after"], "30", "with the sign-in's first wait");
      t.equal(await auditCount(p.id, route.failureEvent), FREE + 1, `every wrong password is audited as ${route.failureEvent}`);
      t.equal(await auditCount(p.id, "excess_rate_limit_exceeded"), 1, "and the refusal as excess_rate_limit_exceeded");
      const login = await routes[0]!.attempt(p, TEST_PASSWORD, ip);
      t.equal(login.statusCode, 429, "the guesses hold sign-in from that address too: one counter");
      clock.advance(30_000);
      const after = await route.attempt(p, TEST_PASSWORD, ip);
      t.ok(after.statusCode < 300, `after the wait the right password is accepted (${after.statusCode})`);
    });
  }
});

t.test("PW-07: turning 2SV off with a wrong password or a wrong code gives one identical problem", async (t) => {
  const p = await person();
  const off = (password: string, code: string) =>
    app.inject({ method: "DELETE", url: "/v1/me/mfa/totp", remoteAddress: freshAddress(), headers: bearer(p.accessToken), payload: { password, code } });
  const wrongPassword = await off(WRONG, totpAt(p.secret, clock.now()));
  const wrongCode = await off(TEST_PASSWORD, totpAt(p.secret, clock.now(), 7));
  const both = await off(WRONG, totpAt(p.secret, clock.now(), 7));
  for (const res of [wrongPassword, wrongCode, both]) {
    t.equal(res.statusCode, 401);
    t.equal(res.json().code, "INVALID_CURRENT_CREDENTIALS");
  }
  t.equal(canonical(wrongCode), canonical(wrongPassword), "the same body but the request id");
  t.equal(canonical(both), canonical(wrongPassword));
  t.equal(wrongCode.headers["content-type"], wrongPassword.headers["content-type"]);
  t.equal(await auditCount(p.id, "reauthentication_failed"), 2, "the two wrong passwords are audited");
  t.equal(await auditCount(p.id, "mfa_verify_fail"), 1, "the right password with a wrong code is a second-step failure");
});
