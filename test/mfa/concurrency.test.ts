// Single use under concurrency (checklist OTP-05; RFC 6238 §5.2 "MUST NOT accept
// the second attempt of the same OTP"): the check-and-set lives in the database,
// so it holds for parallel requests on one instance and across instances sharing
// one database. Two instances need the same key material, as in production
// (SIGNING_KEYS and ENCRYPTION_KEYS from the environment). Waits and the failure
// cap are set out of reach: the losers here are replays, not guesses.
import t, { type Test } from "tap";
import { randomBytes } from "node:crypto";
import { manualClock } from "../helpers/clock.ts";
import { generateKeyRecord, serializeKeyFile } from "../../src/lib/signing-keys.ts";
import type { App } from "../../src/http/app-type.ts";
import { sharedDatabase, startApp } from "../helpers/app.ts";
import { enrolledUser, mfaToken, totpAt, verify } from "../helpers/mfa.ts";

const PARALLEL = 20;

const clock = manualClock(new Date("2026-11-28T10:00:05Z"));
const database = await sharedDatabase(t);
const keys = {
  SIGNING_KEYS: serializeKeyFile({ keys: [await generateKeyRecord("access", clock.now()), await generateKeyRecord("device", clock.now())] }),
  ENCRYPTION_KEYS: `shared:${randomBytes(32).toString("base64url")}`,
};
const config = { ...keys, MIGRATE_ON_START: false, MFA_FREE_FAILURES: 50, MFA_FAILURE_CAP: 100, RECOVERY_CODE_COUNT: 4 };
const instanceA: App = await startApp(t, { clock, database, config });
const instanceB: App = await startApp(t, { clock, database, config });

type Response = Awaited<ReturnType<typeof verify>>;
const canonical = (res: Response) => res.body.replace(res.json().instance, "<instance>");
const sessionsOf = (userId: string) => database.prisma.session.count({ where: { userId } });

/** Enrolls on A, then moves the clock a step on so the confirming step is out of the way. */
async function readyUser() {
  const user = await enrolledUser(instanceA, clock.now);
  clock.advance(30_000);
  return user;
}

async function raceOneCode(t: Test, instances: App[]) {
  const user = await readyUser();
  const pick = (i: number) => instances[i % instances.length]!;
  const tokens: string[] = [];
  for (let i = 0; i < PARALLEL; i++) tokens.push(await mfaToken(pick(i), user.email));
  const sessionsBefore = await sessionsOf(user.id);
  const code = totpAt(user.secret, clock.now());

  const answers = await Promise.all(tokens.map((mfaToken, i) => verify(pick(i), { mfaToken, method: "totp", code })));

  const winners = answers.filter((res) => res.statusCode === 200);
  const losers = answers.filter((res) => res.statusCode !== 200);
  t.equal(winners.length, 1, "exactly one request wins");
  t.equal(losers.length, PARALLEL - 1);
  t.ok(losers.every((res) => res.statusCode === 401 && res.json().code === "INVALID_CODE"), "every other one: 401 INVALID_CODE");
  t.equal(new Set(losers.map(canonical)).size, 1, "and one identical body (but the instance)");
  t.equal(await sessionsOf(user.id), sessionsBefore + 1, "exactly one session was minted");
  return { user, winner: winners[0]! };
}

t.test("a TOTP code is accepted only once, also under 20 concurrent requests on 20 MFA tokens", async (t) => {
  const { user } = await raceOneCode(t, [instanceA]);
  const factor = await database.prisma.totpFactor.findFirstOrThrow({ where: { userId: user.id, status: "active" } });
  t.equal(Number(factor.lastUsedStep), Math.floor(clock.now().getTime() / 30_000), "the winning step is the one burned");
});

t.test("a TOTP code is accepted only once, also with two instances on one database", async (t) => {
  const { winner } = await raceOneCode(t, [instanceA, instanceB]);
  t.equal(winner.json().status, "authenticated");
});

t.test("concurrent correct codes on one MFA token mint at most one session", async (t) => {
  const user = await readyUser();
  const token = await mfaToken(instanceA, user.email);
  const sessionsBefore = await sessionsOf(user.id);
  // T-1, T and T+1 are three different valid codes: each may pass the code check,
  // so only the challenge's own single use keeps this to one session.
  const answers = await Promise.all([-1, 0, 1].map((offset, i) =>
    verify(i % 2 ? instanceB : instanceA, { mfaToken: token, method: "totp", code: totpAt(user.secret, clock.now(), offset) })));
  t.equal(answers.filter((res) => res.statusCode === 200).length, 1, "one success");
  t.ok(answers.filter((res) => res.statusCode !== 200).every((res) => res.statusCode === 401), "the others 401");
  t.equal(await sessionsOf(user.id), sessionsBefore + 1, "one session");
});

t.test("the MFA challenge is consumed once: racing a TOTP code and a recovery code on one MFA token gives exactly one session", async (t) => {
  const user = await readyUser();
  for (let round = 0; round < 3; round++) {
    const token = await mfaToken(instanceA, user.email);
    const sessionsBefore = await sessionsOf(user.id);
    // Both codes are right: only the challenge's single use decides, on either
    // instance. The recovery code goes first: its check (argon2 over the unused
    // codes) is slow, so the TOTP step passes while it runs and both reach the consume.
    const [recovery, totp] = await Promise.all([
      verify(instanceB, { mfaToken: token, method: "recovery_code", code: user.recoveryCodes[round]! }),
      verify(instanceA, { mfaToken: token, method: "totp", code: totpAt(user.secret, clock.now()) }),
    ]);
    const answers = [totp, recovery];
    t.equal(answers.filter((res) => res.statusCode === 200).length, 1, `round ${round}: one of the two signs in`);
    t.ok(answers.filter((res) => res.statusCode !== 200).every((res) => res.statusCode === 401), "the other is refused with 401");
    t.equal(await sessionsOf(user.id), sessionsBefore + 1, "exactly one session");
    clock.advance(30_000);
  }
});
