// Pairing an authenticator app: proof of possession, confirmation by the session
// that started it, and the factor it becomes (issue 7).
import t from "tap";
import { CompactSign, generateKeyPair, importJWK } from "jose";
import { decodeJwt } from "jose";
import type { App } from "../../src/http/app-type.ts";
import { bearer, createApiKey, createUser, login, startApp } from "../helpers/app.ts";
import { newApp, personWithPushApp } from "../helpers/push.ts";
import { refusal } from "../helpers/push.ts";
import { PAIRING_TYP } from "../../src/push/app-signature.ts";

const app: App = await startApp(t);
const startPairing = (token: string) => app.inject({ method: "POST", url: "/v1/me/mfa/push-authenticators", headers: bearer(token) });

t.test("a confirmed pairing turns 2SV on: the recovery code once, push offered at sign-in, the app listed in /v1/me", async (t) => {
  const { user, accessToken, recoveryCodes } = await personWithPushApp(app);
  t.equal(recoveryCodes.length, 1, "the first factor shows the recovery code");
  const next = (await login(app, user.email)).json();
  t.equal(next.status, "mfa_required");
  t.same(next.methods, ["recovery_code", "push"]);
  const me = (await app.inject({ method: "GET", url: "/v1/me", headers: bearer(accessToken) })).json();
  t.equal(me.security.twoStepEnabled, true);
  t.same(me.security.methods, ["recovery_code", "push"]);
  t.equal(me.security.pushAuthenticators.length, 1);
  t.equal(me.security.pushAuthenticators[0].name, "Test phone");
  t.equal(me.security.bankIntegrationAvailable, false, "push alone does not open the bank integration");
});

t.test("the pairing answer carries a URI naming this service, a QR SVG and at most 240 s", async (t) => {
  const user = await createUser(app);
  const res = await startPairing((await login(app, user.email)).json().accessToken);
  t.equal(res.statusCode, 200, res.body);
  const uri = new URL(res.json().pairingUri);
  t.equal(uri.protocol, "idpush:");
  t.equal(uri.searchParams.get("url"), "http://127.0.0.1:3000");
  t.match(res.json().qrSvg, /^<svg/);
  t.ok(res.json().expiresIn <= 240);
});

t.test("pairing without proof of possession is refused and registers nothing", async (t) => {
  const user = await createUser(app);
  const session = (await login(app, user.email)).json();
  const started = (await startPairing(session.accessToken)).json();
  const token = new URL(started.pairingUri).searchParams.get("token")!;
  const phone = await newApp(app);
  const other = await generateKeyPair("ES256");
  const foreignProof = await new CompactSign(new TextEncoder().encode(JSON.stringify({ nonce: token, aud: "http://127.0.0.1:3000", iat: Math.floor(Date.now() / 1000) })))
    .setProtectedHeader({ alg: "ES256", typ: PAIRING_TYP }).sign(other.privateKey);
  const { kty, crv, x, y } = phone.state.publicJwk;
  const complete = (proof: string, publicKey: Record<string, unknown> = { kty, crv, x, y }) =>
    app.inject({ method: "POST", url: "/v1/authenticator/pairings", payload: { pairingToken: token, name: "Thief", publicKey, proof } });

  const signedByOther = await complete(foreignProof);
  t.equal(signedByOther.statusCode, 400);
  t.equal(signedByOther.json().code, "PAIRING_PROOF_INVALID", "a proof by another key is refused");
  const ownKey = await importJWK(phone.state.privateJwk, "ES256");
  const wrongNonce = await new CompactSign(new TextEncoder().encode(JSON.stringify({ nonce: "pair_other", aud: "http://127.0.0.1:3000", iat: 1 })))
    .setProtectedHeader({ alg: "ES256", typ: PAIRING_TYP }).sign(ownKey);
  t.equal((await complete(wrongNonce)).json().code, "PAIRING_PROOF_INVALID", "a proof over another nonce is refused");
  t.equal((await complete(foreignProof, { ...phone.state.privateJwk })).json().code, "UNSUPPORTED_APP_KEY", "a private key is never accepted");
  const listed = (await app.inject({ method: "GET", url: "/v1/me/mfa/push-authenticators", headers: bearer(session.accessToken) })).json();
  t.same(listed.authenticators, [], "nothing waits for confirmation");
});

t.test("a stolen QR code pairs nothing: only the session that started the pairing may confirm it, and the token works once", async (t) => {
  const user = await createUser(app);
  const first = (await login(app, user.email)).json();
  const second = (await login(app, user.email)).json();
  const started = (await startPairing(first.accessToken)).json();
  const thief = await newApp(app, "Thief's phone");
  await thief.pair(started.pairingUri);
  const again = await newApp(app, "Another phone");
  t.equal(await refusal(again.pair(started.pairingUri)), 401, "the pairing token is single-use");
  const listed = (await app.inject({ method: "GET", url: "/v1/me/mfa/push-authenticators", headers: bearer(second.accessToken) })).json();
  t.equal(listed.authenticators[0].name, "Thief's phone", "the name the app gave is shown before confirming");
  t.equal(listed.authenticators[0].status, "awaiting_confirmation");
  const elsewhere = await app.inject({ method: "POST", url: `/v1/me/mfa/push-authenticators/${started.pairingId}/confirm`, headers: bearer(second.accessToken) });
  t.equal(elsewhere.statusCode, 409);
  t.equal(elsewhere.json().code, "NO_PAIRING_TO_CONFIRM");
  t.equal((await login(app, user.email)).json().status, "authenticated", "no factor became active");
});

t.test("removing a paired app needs a session that passed the second step", async (t) => {
  const { user, accessToken, pairingId } = await personWithPushApp(app);
  const remove = (token: string) => app.inject({ method: "DELETE", url: `/v1/me/mfa/push-authenticators/${pairingId}`, headers: bearer(token) });
  const passwordOnly = await remove(accessToken);
  t.equal(passwordOnly.statusCode, 403);
  t.equal(passwordOnly.json().code, "SECOND_FACTOR_REQUIRED");
  t.same(decodeJwt(accessToken).amr, ["pwd"]);
  t.equal((await login(app, user.email)).json().status, "mfa_required", "still paired");
});

t.test("support reset removes paired apps", async (t) => {
  const { user } = await personWithPushApp(app);
  const apiKey = await createApiKey(app, ["users:mfa-reset"]);
  const reset = await app.inject({ method: "DELETE", url: `/v1/users/${user.id}/mfa`, headers: { "x-api-key": apiKey } });
  t.equal(reset.statusCode, 204);
  t.equal(await app.database.prisma.pushAuthenticator.count({ where: { userId: user.id } }), 0);
  t.equal((await login(app, user.email)).json().status, "authenticated");
});
