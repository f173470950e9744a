// Sign-in under load (issue "hot paths"): the hashing queue behaves as the
// configuration documents it. Every caller within concurrency + ARGON2_MAX_QUEUE
// is served; a caller beyond it gets 503 SERVICE_BUSY with Retry-After, never a
// 500 or a hang. Exactly which burst member is refused depends on timing, so the
// exact count is pinned on the hasher itself (test/lib/passwords.test.ts); here
// the HTTP answers are.
import t from "tap";
import { createUser, login, startApp } from "../helpers/app.ts";

const QUEUE = 4;
const config = { ARGON2_MAX_CONCURRENT: 1, ARGON2_MAX_QUEUE: QUEUE, LOGIN_RATE_PER_IP: 1000, ARGON2_TIME_COST: 4 };

t.test("within the hashing queue every concurrent sign-in is served", async (t) => {
  const app = await startApp(t, { config });
  const user = await createUser(app);
  const answers = await Promise.all(Array.from({ length: 1 + QUEUE }, () => login(app, user.email)));
  t.same(answers.map((res) => res.statusCode), Array(1 + QUEUE).fill(200), `1 hashing + ${QUEUE} waiting: all 200`);
  t.ok(answers.every((res) => res.json().status === "authenticated"));
});

t.test("beyond the hashing queue a sign-in is refused with 503 SERVICE_BUSY and Retry-After, and the rest are served", async (t) => {
  const app = await startApp(t, { config: { ...config, ARGON2_MAX_QUEUE: 0 } });
  const user = await createUser(app);
  const answers = await Promise.all(Array.from({ length: 8 }, () => login(app, user.email)));
  const refused = answers.filter((res) => res.statusCode !== 200);
  t.ok(answers.some((res) => res.statusCode === 200), "the admitted ones are served");
  for (const res of refused) {
    t.equal(res.statusCode, 503);
    t.equal(res.json().code, "SERVICE_BUSY");
    t.equal(res.headers["retry-after"], "1");
    t.match(res.headers["content-type"], /^application\/problem\+json/);
  }
  t.ok(answers.length - refused.length >= 1, `${answers.length - refused.length} served, ${refused.length} refused`);
});
