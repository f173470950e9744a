// Secrets at rest and in logs (checklist SR-02, SR-03, SR-05, OTP-08, RC-03).
// Grey-box where the property is about storage: the rows are read directly.
import t from "tap";
import type { InjectOptions } from "fastify";
import { randomBytes } from "node:crypto";
import { manualClock } from "../helpers/clock.ts";
import { createSecretBox } from "../../src/lib/secret-box.ts";
import { seedAad } from "../../src/mfa/second-factor.ts";
import type { App } from "../../src/http/app-type.ts";
import { bearer, createApiKey, createUser, logCapture, login, startApp, TEST_PASSWORD } from "../helpers/app.ts";
import { enrolledUser, mfaToken, totpAt, verify } from "../helpers/mfa.ts";

const KEY_ID = "k2026";
const key = randomBytes(32);
const clock = manualClock(new Date("2026-11-28T10:00:05Z"));
const logs = logCapture();
const app: App = await startApp(t, { clock, logStream: logs.stream, config: { ENCRYPTION_KEYS: `${KEY_ID}:${key.toString("base64")}` } });
const prisma = app.database.prisma;

const activeFactor = (userId: string) => prisma.totpFactor.findFirstOrThrow({ where: { userId, status: "active" } });

t.test("the secret column is not the secret: AES-256-GCM under the configured key id, bound to user and factor", async (t) => {
  const alice = await enrolledUser(app, clock.now);
  const bob = await enrolledUser(app, clock.now);
  const row = await activeFactor(alice.id);
  t.not(row.secretCiphertext, alice.secret);
  t.notOk(row.secretCiphertext.includes(alice.secret), "the Base32 seed is not in the column");
  t.notOk(row.secretCiphertext.toUpperCase().includes(alice.secret), "not even case-folded");
  t.match(row.secretCiphertext, /^v1\.[A-Za-z0-9_-]+$/, "a versioned envelope");
  t.equal(row.encryptionKeyId, KEY_ID, "the key id is stored for rotation");

  const box = createSecretBox([{ id: KEY_ID, key }], KEY_ID);
  t.equal(box.open(row.secretCiphertext, row.encryptionKeyId, seedAad(alice.id, row.id)), alice.secret, "opens with this user and factor");
  const bobsRow = await activeFactor(bob.id);
  t.throws(() => box.open(row.secretCiphertext, KEY_ID, seedAad(bob.id, row.id)), "not for another user");
  t.throws(() => box.open(row.secretCiphertext, KEY_ID, seedAad(alice.id, bobsRow.id)), "not for another factor");
  const otherKey = createSecretBox([{ id: KEY_ID, key: randomBytes(32) }], KEY_ID);
  t.throws(() => otherKey.open(row.secretCiphertext, KEY_ID, seedAad(alice.id, row.id)), "not with another key");
});

t.test("swapping two users' ciphertexts makes both fail to verify: 401 INVALID_CODE, not a 500", async (t) => {
  const alice = await enrolledUser(app, clock.now);
  const bob = await enrolledUser(app, clock.now);
  const [aliceRow, bobRow] = [await activeFactor(alice.id), await activeFactor(bob.id)];
  await prisma.$transaction([
    prisma.totpFactor.update({ where: { id: aliceRow.id }, data: { secretCiphertext: bobRow.secretCiphertext } }),
    prisma.totpFactor.update({ where: { id: bobRow.id }, data: { secretCiphertext: aliceRow.secretCiphertext } }),
  ]);
  clock.advance(30_000);
  for (const [name, user, other] of [["alice", alice, bob], ["bob", bob, alice]] as const) {
    for (const [label, secret] of [["own", user.secret], ["swapped-in", other.secret]] as const) {
      const res = await verify(app, { mfaToken: await mfaToken(app, user.email), method: "totp", code: totpAt(secret, clock.now()) });
      t.equal(res.statusCode, 401, `${name}, ${label} seed's code: 401 (${res.json().code})`);
      t.equal(res.json().code, "INVALID_CODE");
    }
  }
});

t.test("recovery codes are stored only as argon2id hashes", async (t) => {
  const user = await enrolledUser(app, clock.now);
  const rows = await prisma.recoveryCode.findMany({ where: { userId: user.id } });
  t.equal(rows.length, 1);
  const code = user.recoveryCodes[0]!;
  for (const row of rows) {
    t.match(row.codeHash, /^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$/, "a PHC argon2id string (ASVS 6.5.2: < 112 bits)");
    t.notOk(row.codeHash.includes(code) || row.codeHash.includes(code.replaceAll("-", "")), "no clear code");
  }
});

t.test("no secret, code, recovery code, password or token appears in any log line or error body", async (t) => {
  const secrets = new Set<string>([TEST_PASSWORD]);
  const bodies: string[] = [];
  const errorBodies: string[] = [];
  const send = async (options: InjectOptions) => {
    const res = await app.inject(options);
    bodies.push(res.body);
    if (res.statusCode >= 400) errorBodies.push(res.body);
    return res;
  };
  const json = (body: Record<string, unknown>) => ({ headers: { "content-type": "application/json" }, payload: JSON.stringify(body) });
  const collect = (value: unknown) => {
    if (typeof value === "string" && value.length >= 6) secrets.add(value);
  };
  const collectCode = (code: string) => {
    secrets.add(`"${code}"`); // as a JSON value: bare six digits also occur in timestamps
    return code;
  };

  const user = await createUser(app);
  const first = (await send({ method: "POST", url: "/v1/auth/login", ...json({ email: user.email, password: TEST_PASSWORD }) })).json();
  collect(first.accessToken); collect(first.refreshToken);
  const started = (await send({ method: "POST", url: "/v1/me/mfa/totp", headers: bearer(first.accessToken) })).json();
  const secret: string = started.secret;
  secrets.add(secret); secrets.add(started.otpauthUri); secrets.add("otpauth://");
  const afterEnrollment = bodies.length;

  await send({ method: "POST", url: "/v1/me/mfa/totp/confirm", headers: bearer(first.accessToken), payload: { code: collectCode(totpAt(secret, clock.now(), 4)) } });
  const confirmed = (await send({ method: "POST", url: "/v1/me/mfa/totp/confirm", headers: bearer(first.accessToken), payload: { code: collectCode(totpAt(secret, clock.now())) } })).json();
  const recoveryCode: string = confirmed.recoveryCodes[0];
  collect(recoveryCode); collect(recoveryCode.replaceAll("-", ""));

  clock.advance(30_000);
  const challenge = (await send({ method: "POST", url: "/v1/auth/login", payload: { email: user.email, password: TEST_PASSWORD } })).json();
  collect(challenge.mfaToken);
  await send({ method: "POST", url: "/v1/auth/mfa/verify", payload: { mfaToken: challenge.mfaToken, method: "totp", code: collectCode(totpAt(secret, clock.now(), 5)) } });
  await send({ method: "POST", url: "/v1/auth/mfa/verify", payload: { mfaToken: challenge.mfaToken, method: "recovery_code", code: "AAAA-BBBB-CCCC-DDDD" } });
  const signedIn = (await send({ method: "POST", url: "/v1/auth/mfa/verify", payload: {
    mfaToken: challenge.mfaToken, method: "totp", code: collectCode(totpAt(secret, clock.now())), rememberDevice: true, deviceName: "Laptop",
  } })).json();
  collect(signedIn.accessToken); collect(signedIn.refreshToken); collect(signedIn.deviceToken);
  await send({ method: "POST", url: "/v1/auth/mfa/verify", payload: { mfaToken: challenge.mfaToken, method: "totp", code: totpAt(secret, clock.now(), 1) } });

  const viaDevice = (await send({ method: "POST", url: "/v1/auth/login", payload: { email: user.email, password: TEST_PASSWORD, deviceToken: signedIn.deviceToken } })).json();
  collect(viaDevice.accessToken); collect(viaDevice.refreshToken);
  await send({ method: "GET", url: "/v1/me", headers: bearer(signedIn.deviceToken) });

  const recovery = await mfaToken(app, user.email);
  collect(recovery);
  const recovered = (await send({ method: "POST", url: "/v1/auth/mfa/verify", payload: { mfaToken: recovery, method: "recovery_code", code: recoveryCode } })).json();
  collect(recovered.accessToken); collect(recovered.refreshToken);
  for (const code of recovered.recoveryCodes) { collect(code); collect(code.replaceAll("-", "")); }
  await send({ method: "POST", url: "/v1/auth/mfa/verify", payload: { mfaToken: recovery, method: "recovery_code", code: recoveryCode } });

  clock.advance(30_000);
  const stepped = (await send({ method: "POST", url: "/v1/auth/step-up", headers: bearer(signedIn.accessToken), payload: { method: "totp", code: collectCode(totpAt(secret, clock.now())) } })).json();
  collect(stepped.accessToken);
  const refreshed = (await send({ method: "POST", url: "/v1/auth/refresh", payload: { refreshToken: signedIn.refreshToken } })).json();
  collect(refreshed.accessToken); collect(refreshed.refreshToken);
  clock.advance(31_000); // past the refresh grace period, so the next line is reuse
  await send({ method: "POST", url: "/v1/auth/refresh", payload: { refreshToken: signedIn.refreshToken } }); // reuse: ends that session
  clock.advance(30_000);
  const regenerated = (await send({ method: "POST", url: "/v1/me/mfa/recovery-codes", headers: bearer(recovered.accessToken), payload: { code: collectCode(totpAt(secret, clock.now())) } })).json();
  for (const code of regenerated.recoveryCodes) { collect(code); collect(code.replaceAll("-", "")); }
  await send({ method: "DELETE", url: "/v1/me/mfa/totp", headers: bearer(recovered.accessToken), payload: { password: "a wrong password, for the log", code: "000000" } });
  secrets.add("a wrong password, for the log");
  const readKey = await createApiKey(app, ["users:read"]);
  secrets.add(readKey);
  await send({ method: "GET", url: `/v1/users/${user.id}/security`, headers: { "x-api-key": readKey } });
  await send({ method: "GET", url: "/v1/me/devices", headers: bearer(recovered.accessToken) });
  await send({ method: "GET", url: "/v1/me", headers: bearer(refreshed.accessToken) });

  t.ok(errorBodies.length >= 6, `the flow met refusals too (${errorBodies.length})`);
  // Two sinks: the operational log (pino) and the audit log (a table).
  const auditRows = await prisma.auditEvent.findMany({ where: { subjectUserId: user.id } });
  const auditLines = auditRows.map((row) => JSON.stringify(row));
  const logEvents = new Set(logs.lines.map((line) => (JSON.parse(line) as { event?: string }).event));
  for (const event of ["authn_login_password_ok", "mfa_failed", "authn_login_success"]) {
    t.ok(logEvents.has(event), `the log recorded ${event}, so there was something to leak`);
  }
  const auditTypes = new Set(auditRows.map((row) => row.type));
  for (const type of ["mfa_enrolled", "mfa_verify_fail", "trusted_device_issued", "recovery_code_used", "step_up_success", "recovery_codes_replaced"]) {
    t.ok(auditTypes.has(type), `the audit log recorded ${type}`);
  }
  for (const value of secrets) {
    const label = `${value.slice(0, 12)}…`;
    t.same(logs.lines.filter((line) => line.includes(value)), [], `not in the log: ${label}`);
    t.same(auditLines.filter((line) => line.includes(value)), [], `not in the audit log: ${label}`);
    t.notOk(errorBodies.some((body) => body.includes(value)), `not in an error body: ${label}`);
  }
  t.notOk(bodies.slice(afterEnrollment).some((body) => body.includes(secret) || body.includes("otpauth")),
    "no answer after the enrollment one returns the secret");
});

t.test("no endpoint returns the secret after enrollment", async (t) => {
  const user = await enrolledUser(app, clock.now);
  const apiKey = await createApiKey(app, ["users:read"]);
  clock.advance(30_000);
  const session = (await verify(app, { mfaToken: await mfaToken(app, user.email), method: "totp", code: totpAt(user.secret, clock.now()), rememberDevice: true })).json();
  const answers = [
    JSON.stringify(session),
    (await app.inject({ method: "GET", url: "/v1/me", headers: bearer(session.accessToken) })).body,
    (await app.inject({ method: "GET", url: "/v1/me/devices", headers: bearer(session.accessToken) })).body,
    (await app.inject({ method: "GET", url: `/v1/users/${user.id}/security`, headers: { "x-api-key": apiKey } })).body,
    (await login(app, user.email)).body,
    (await app.inject({ method: "POST", url: "/v1/me/mfa/totp/confirm", headers: bearer(session.accessToken), payload: { code: "123456" } })).body,
  ];
  for (const body of answers) {
    t.notOk(body.includes(user.secret), "no secret");
    t.notOk(body.includes("otpauth"), "no otpauth URI");
  }
});
