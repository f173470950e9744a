// A phone clock drifting one step: accepted codes that keep coming from the step
// before the server's earn a clockDrift hint in the verify answer and in /v1/me.
import t from "tap";
import { manualClock } from "../helpers/clock.ts";
import type { App } from "../../src/http/app-type.ts";
import { bearer, startApp } from "../helpers/app.ts";
import { enrolledUser, mfaToken, totpAt, verify } from "../helpers/mfa.ts";

const clock = manualClock(new Date("2026-11-28T10:00:05Z"));
const app: App = await startApp(t, { clock });

t.test("codes that keep landing one step behind the server's give a clockDrift hint; an on-time code clears it", async (t) => {
  const user = await enrolledUser(app, clock.now);
  clock.advance(30_000); // the confirming code burned this step: a "late" code must come from the step after it
  const signIn = async (offset: number) => {
    clock.advance(30_000);
    const res = await verify(app, { mfaToken: await mfaToken(app, user.email), method: "totp", code: totpAt(user.secret, clock.now(), offset) });
    t.equal(res.statusCode, 200, res.body);
    return res.json();
  };
  t.notOk((await signIn(-1)).clockDrift, "one late code says nothing");
  t.notOk((await signIn(-1)).clockDrift);
  const third = await signIn(-1);
  t.same(third.clockDrift, { direction: "behind", acceptedInARow: 3 }, "the third in a row says the phone is behind");
  const me = (await app.inject({ method: "GET", url: "/v1/me", headers: bearer(third.accessToken) })).json();
  t.same(me.security.clockDrift, { direction: "behind", acceptedInARow: 3 });
  const onTime = await signIn(0);
  t.notOk(onTime.clockDrift, "a code of the current step clears it");
});
