import t from "tap";
import { decodeJwt } from "jose";
import { manualClock } from "../helpers/clock.ts";
import { bearer, login, startApp } from "../helpers/app.ts";
import { enrolledUser, mfaToken, totpAt, verify } from "../helpers/mfa.ts";

t.test("enroll, then sign in with a TOTP code, remember the device and skip the second step with it", async (t) => {
  const clock = manualClock(new Date("2026-11-28T10:00:00Z"));
  const app = await startApp(t, { clock });
  const user = await enrolledUser(app, clock.now);
  t.equal(user.recoveryCodes.length, 1);

  clock.advance(30_000);
  const token = await mfaToken(app, user.email);
  const res = await verify(app, { mfaToken: token, method: "totp", code: totpAt(user.secret, clock.now()), rememberDevice: true, deviceName: "Laptop" });
  t.equal(res.statusCode, 200, res.body);
  const body = res.json();
  t.same(decodeJwt(body.accessToken).amr, ["pwd", "otp", "mfa"]);
  t.ok(body.deviceToken);

  const skipped = await login(app, user.email, undefined, { deviceToken: body.deviceToken });
  t.equal(skipped.json().status, "authenticated");
  t.same(decodeJwt(skipped.json().accessToken).amr, ["pwd", "dt"]);

  const me = await app.inject({ method: "GET", url: "/v1/me", headers: bearer(body.accessToken) });
  t.equal(me.json().security.twoStepEnabled, true);
  t.same(me.json().security.methods, ["totp", "recovery_code"]);

  const recovered = await verify(app, { mfaToken: await mfaToken(app, user.email), method: "recovery_code", code: user.recoveryCodes[0]!.toLowerCase() });
  t.equal(recovered.statusCode, 200, recovered.body);
  t.equal(recovered.json().recoveryCodes.length, 1);
  t.not(recovered.json().recoveryCodes[0], user.recoveryCodes[0]);
});
