// Password-guessing defences over HTTP (checklist RL-02..RL-05, RL-07, RL-08, UE-03,
// IV-08): per-account doubling waits, per-address limits, counters that every
// instance shares in the database and that count every concurrent failure.
// Two instances (A, B) share one database and one manual clock, as N instances
// behind a load balancer share PostgreSQL and NTP time.
import t from "tap";
import { accountKey } from "../../src/rate-limit/sign-in-throttle.ts";
import { randomBytes } from "node:crypto";
import { manualClock } from "../helpers/clock.ts";
import type { App } from "../../src/http/app-type.ts";
import { TEST_PASSWORD, createUser, sharedDatabase, startApp } from "../helpers/app.ts";

const FREE = 3;
const MAX_WAIT = 100;
const PER_IP = 20;

const clock = manualClock();
const database = await sharedDatabase(t);
const config = { LOGIN_FREE_FAILURES: FREE, LOGIN_MAX_WAIT_SECONDS: MAX_WAIT, LOGIN_RATE_PER_IP: PER_IP };
const a: App = await startApp(t, { database, clock, config });
const b: App = await startApp(t, { database, clock, config });

const hex = () => randomBytes(4).toString("hex");
const uniqueEmail = (label: string) => `${label}-${hex()}@example.com`;
let addressSeq = 0;
/** Each test signs in from its own address, so the per-address limit stays out of the way. */
const freshAddress = () => `198.51.100.${++addressSeq}`;

interface Outcome { status: number; code?: string; retryAfter?: string }

async function attempt(app: App, email: string, password: string, remoteAddress: string, headers: Record<string, string> = {}): Promise<Outcome> {
  const res = await app.inject({ method: "POST", url: "/v1/auth/login", remoteAddress, headers, payload: { email, password } });
  const code = res.statusCode === 200 ? undefined : (res.json().code as string);
  const retryAfter = res.headers["retry-after"] as string | undefined;
  return { status: res.statusCode, ...(code ? { code } : {}), ...(retryAfter ? { retryAfter } : {}) };
}

const WRONG = "definitely not the password";
const failureCount = async (email: string) =>
  (await database.prisma.rateLimitCounter.findMany({ where: { key: { contains: accountKey(email) } } })).find((c) => c.key.startsWith("signin:fail:"))?.count ?? 0;

// The documented rule (sign-in-throttle.ts): LOGIN_FREE_FAILURES failures cost
// nothing; each further failure is still answered 401 but imposes a wait, and
// any attempt inside that wait, even with the right password, gets 429.
t.test("after LOGIN_FREE_FAILURES free failures, the next failure imposes a wait: attempts inside it, even with the right password, get 429 RATE_LIMITED with Retry-After", async (t) => {
  const user = await createUser(a, uniqueEmail("free"));
  const ip = freshAddress();
  for (let i = 1; i <= FREE; i++) t.same(await attempt(a, user.email, WRONG, ip), { status: 401, code: "INVALID_CREDENTIALS" }, `free failure ${i}`);
  t.same(await attempt(a, user.email, WRONG, ip), { status: 401, code: "INVALID_CREDENTIALS" }, "the first failure beyond them is answered, and starts the wait");
  const inside = await attempt(a, user.email, TEST_PASSWORD, ip);
  t.same(inside, { status: 429, code: "RATE_LIMITED", retryAfter: "30" }, "the right password inside the 30 s wait is refused");
  clock.advance(30_000);
  t.equal((await attempt(a, user.email, TEST_PASSWORD, ip)).status, 200, "after the wait it signs in");
});

t.test("the wait doubles from 30 s up to LOGIN_MAX_WAIT_SECONDS, is not extended by attempts inside it, and ends", async (t) => {
  const user = await createUser(a, uniqueEmail("doubling"));
  const ip = freshAddress();
  let first: Outcome | undefined;
  for (let i = 0; i < FREE + 2 && !first; i++) {
    const outcome = await attempt(a, user.email, WRONG, ip);
    if (outcome.status === 429) first = outcome;
  }
  t.same(first, { status: 429, code: "RATE_LIMITED", retryAfter: "30" }, "the first wait is 30 s");

  clock.advance(10_000);
  t.equal((await attempt(a, user.email, TEST_PASSWORD, ip)).retryAfter, "20", "10 s later, 20 s remain: the attempt did not extend the wait");

  const waits: string[] = [];
  let remaining = 20;
  for (let round = 0; round < 3; round++) {
    clock.advance(remaining * 1000);
    t.equal((await attempt(a, user.email, WRONG, ip)).status, 401, `round ${round}: the wait is over, the guess is checked`);
    const refused = await attempt(a, user.email, TEST_PASSWORD, ip);
    t.equal(refused.status, 429);
    waits.push(refused.retryAfter ?? "none");
    remaining = Number(refused.retryAfter);
  }
  t.same(waits, ["60", "100", "100"], "30 → 60 → 120 capped at 100 → 100");

  clock.advance(remaining * 1000);
  t.equal((await attempt(a, user.email, TEST_PASSWORD, ip)).status, 200, "after the wait the right password signs in: no permanent lock");
});

t.test("a successful sign-in resets the failure counter", async (t) => {
  const user = await createUser(a, uniqueEmail("reset"));
  const ip = freshAddress();
  for (let i = 0; i < FREE - 1; i++) t.equal((await attempt(a, user.email, WRONG, ip)).status, 401);
  t.equal((await attempt(a, user.email, TEST_PASSWORD, ip)).status, 200);
  t.equal(await failureCount(user.email), 0, "no failures remembered after the success");
  for (let i = 0; i < FREE - 1; i++) t.equal((await attempt(a, user.email, WRONG, ip)).status, 401);
  // Without the reset this would be failure 2 × (FREE − 1) + 1 > FREE: inside a wait.
  t.equal((await attempt(a, user.email, TEST_PASSWORD, ip)).status, 200, "no wait: the earlier failures were forgotten");
});

t.test("an unknown email gets exactly the same sequence of statuses and Retry-After values as an existing one", async (t) => {
  const existing = (await createUser(a, uniqueEmail("known"))).email;
  const unknown = uniqueEmail("unknown");
  async function run(email: string) {
    const ip = freshAddress();
    const seen: Outcome[] = [];
    const burst = async (n: number) => { for (let i = 0; i < n; i++) seen.push(await attempt(a, email, WRONG, ip)); };
    await burst(FREE + 3);
    clock.advance(30_000);
    await burst(3);
    clock.advance(60_000);
    await burst(3);
    return seen;
  }
  const known = await run(existing);
  const ghost = await run(unknown);
  t.same(ghost, known);
  t.ok(known.some((o) => o.status === 429) && known.some((o) => o.status === 401), "the sequence mixes failures and waits");
});

t.test(`sign-in number LOGIN_RATE_PER_IP + 1 from one address in a minute is refused; other addresses and spoofed X-Forwarded-For are not a way around it`, async (t) => {
  const ip = freshAddress();
  const other = freshAddress();
  const statuses: number[] = [];
  // Alternating instances: the per-address bucket is shared, not per process.
  for (let i = 0; i < PER_IP; i++) statuses.push((await attempt(i % 2 ? b : a, uniqueEmail("spray"), WRONG, ip)).status);
  t.same(statuses, Array(PER_IP).fill(401), "the first requests are checked");
  const over = await attempt(a, uniqueEmail("spray"), WRONG, ip);
  t.equal(over.status, 429);
  t.equal(over.code, "RATE_LIMITED");
  t.ok(Number(over.retryAfter) >= 1 && Number(over.retryAfter) <= 60, `Retry-After ${over.retryAfter} within the minute`);
  for (let i = 0; i < 3; i++) {
    const spoofed = await attempt(b, uniqueEmail("spray"), WRONG, ip, { "x-forwarded-for": `203.0.113.${i + 1}` });
    t.equal(spoofed.status, 429, "a spoofed X-Forwarded-For does not open a new bucket (TRUST_PROXY is empty)");
  }
  t.equal((await attempt(a, uniqueEmail("spray"), WRONG, other)).status, 401, "another address is unaffected");
  clock.advance(61_000);
  t.equal((await attempt(a, uniqueEmail("spray"), WRONG, ip)).status, 401, "the next minute the address is admitted again");
});

t.test("failures on instance A count on instance B: the counters live in the shared database", async (t) => {
  const user = await createUser(a, uniqueEmail("shared"));
  const ip = freshAddress();
  t.equal((await attempt(a, user.email, WRONG, ip)).status, 401);
  t.equal((await attempt(b, user.email, WRONG, ip)).status, 401);
  t.equal((await attempt(a, user.email, WRONG, ip)).status, 401);
  t.equal(await failureCount(user.email), 3, "one counter holds the failures of both instances");
  await attempt(b, user.email, WRONG, ip); // beyond the free failures whichever instance counts it
  t.equal((await attempt(a, user.email, TEST_PASSWORD, ip)).status, 429, "A honours the wait");
  t.equal((await attempt(b, user.email, TEST_PASSWORD, ip)).status, 429, "B honours the wait");
});

t.test("50 parallel wrong attempts count exactly 50 failures", async (t) => {
  const app = await startApp(t, { config: { LOGIN_FREE_FAILURES: 100 } });
  const user = await createUser(app, uniqueEmail("parallel"));
  const results = await Promise.all(
    Array.from({ length: 50 }, () => app.inject({ method: "POST", url: "/v1/auth/login", payload: { email: user.email, password: WRONG } })),
  );
  t.same(results.map((r) => r.statusCode), Array(50).fill(401));
  const counters = await app.database.prisma.rateLimitCounter.findMany({ where: { key: { contains: accountKey(user.email) } } });
  t.same(counters.filter((c) => c.key.startsWith("signin:fail:")).map((c) => c.count), [50], "no increment lost");
});
