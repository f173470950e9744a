// The bench's order of (MFA token, code) pairs for the second-step load (bench/scenarios.ts): every
// pair it hands out must be one the server accepts, or the bench would count its own mistakes as
// the service's failures. Checked against the server's rules: each token once, a user's steps rising
// and within T − 1..T + 1 of the server clock, T − 1 only with time left in the step, one request
// per user on the wire, and the code the tests' own RFC 6238 implementation gives for that step.
import t from "tap";
import { secondStepOrder, type SecondStepPick } from "../../bench/scenarios.ts";
import { totpAt } from "../helpers/mfa.ts";

const SECRETS = ["JBSWY3DPEHPK3PXP", "GEZDGNBVGY3TQOJQ", "MFRGGZDFMZTWQ2LK"];
const seeded = SECRETS.map((secret, u) => ({ secret, tokens: Array.from({ length: 6 }, (_, i) => `mfa_${u}_${i}`) }));

t.test("every pair the bench sends is one the server accepts", async (t) => {
  let now = Date.UTC(2026, 11, 1, 12, 0, 1); // 1 s into a step
  const order = secondStepOrder(seeded, () => now);
  const lastStep = new Map<string, number>();
  const seen = new Set<string>();
  const inFlight: SecondStepPick[] = [];
  let picks = 0;
  for (let tick = 0; tick < 400; tick++) {
    const pick = order.next();
    if (pick) {
      picks++;
      const user = pick.mfaToken.split("_")[1]!;
      const T = Math.floor(now / 30_000);
      t.notOk(seen.has(pick.mfaToken), `token ${pick.mfaToken} sent once`);
      seen.add(pick.mfaToken);
      t.ok(pick.step >= T - 1 && pick.step <= T + 1, `step ${pick.step} within T ± 1 of ${T}`);
      if (pick.step === T - 1) t.ok((T + 1) * 30_000 - now >= 10_000, "T − 1 only while 10 s of the step are left");
      t.ok(pick.step > (lastStep.get(user) ?? Number.NEGATIVE_INFINITY), "a user's steps rise");
      lastStep.set(user, pick.step);
      t.notOk(inFlight.some((p) => p.mfaToken.split("_")[1] === user), "one request per user on the wire");
      t.equal(pick.code, totpAt(SECRETS[Number(user)]!, new Date(pick.step * 30_000)), "the code for that step");
      inFlight.push(pick);
    }
    if (inFlight.length >= 2 || !pick) inFlight.shift()?.done();
    now += 500;
  }
  t.equal(picks, seen.size);
  t.ok(picks >= 3 * SECRETS.length, `${picks} pairs handed out over ${400 * 0.5} s`);
  t.equal(order.unused(), SECRETS.length * 6 - picks);
});

t.test("a user whose request is on the wire is not picked again", async (t) => {
  const order = secondStepOrder(seeded.slice(0, 1), () => Date.UTC(2026, 11, 1, 12, 0, 1));
  const first = order.next();
  t.ok(first);
  t.equal(order.next(), null, "the only user is busy");
  first!.done();
  t.ok(order.next(), "free again after its answer");
});

t.test("near the end of a step no code for T − 1 is sent: it would expire before the server reads it", async (t) => {
  const late = Date.UTC(2026, 11, 1, 12, 0, 27); // 3 s left in step T
  const T = Math.floor(late / 30_000);
  t.equal(secondStepOrder(seeded.slice(0, 1), () => late).next()?.step, T);
  t.equal(secondStepOrder(seeded.slice(0, 1), () => late - 20_000).next()?.step, T - 1, "with time left, the oldest acceptable step first");
});
