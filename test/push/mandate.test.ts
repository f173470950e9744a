// A company mandate is satisfied by a paired app: a person forced to enroll may
// pair one with the enrollment token, and may not remove their last factor.
import t from "tap";
import type { App } from "../../src/http/app-type.ts";
import { bearer, createUser, login, startApp } from "../helpers/app.ts";
import { companyKit } from "../helpers/companies.ts";
import { newApp, poll, startPush } from "../helpers/push.ts";

const app: App = await startApp(t);

t.test("a person forced to enroll pairs an app with the enrollment token, and may not remove the last factor under the mandate", async (t) => {
  const kit = await companyKit(app);
  const company = await kit.company("Mandating Ltd");
  const user = await createUser(app);
  await kit.member(company.id, user.id);
  await kit.setPolicy(company.id, true);
  const forced = (await login(app, user.email)).json();
  t.equal(forced.status, "mfa_enrollment_required");
  const token = forced.enrollmentToken as string;

  const phone = await newApp(app, "Forced phone");
  const started = await app.inject({ method: "POST", url: "/v1/me/mfa/push-authenticators", headers: bearer(token) });
  t.equal(started.statusCode, 200, started.body);
  await phone.pair(started.json().pairingUri);
  const confirmed = await app.inject({ method: "POST", url: `/v1/me/mfa/push-authenticators/${started.json().pairingId}/confirm`, headers: bearer(token) });
  t.equal(confirmed.statusCode, 200, confirmed.body);
  t.equal(confirmed.json().recoveryCodes.length, 1, "the recovery code, once");
  t.equal(confirmed.json().session.status, "authenticated", "and the session, the enrollment token being spent");
  t.same((await kit.impact(company.id)).withoutFactor, 0, "the mandate counts the paired app as a factor");

  const { mfaToken, res } = await startPush(app, user.email);
  const [pending] = await phone.pending(0);
  await phone.answer(pending!, "approve", { number: res.json().numberToMatch });
  const session = (await poll(app, res.json().challengeId, mfaToken, 0)).json();
  t.equal(session.status, "authenticated");
  const removed = await app.inject({ method: "DELETE", url: `/v1/me/mfa/push-authenticators/${started.json().pairingId}`, headers: bearer(session.accessToken) });
  t.equal(removed.statusCode, 409);
  t.equal(removed.json().code, "TWO_STEP_REQUIRED_BY_POLICY");
});
