// The audit log (checklist LA-01, LA-02, LA-03; design/PRODUCT.md): every
// security event is appended exactly once with its UTC time, actor, subject,
// company, client address, user agent and request id, and no secret; company
// admins read their company's events (an office's admins their own staff's, not
// their clients' people), everyone their own.
// Not tested here: LA-05 (the audit table append-only for the app's database
// role) needs a separate database role, which the service does not set up.
import t, { type Test } from "tap";
import type { InjectOptions, LightMyRequestResponse } from "fastify";
import type { AuditEvent } from "../../src/generated/prisma/client.ts";
import { manualClock } from "../helpers/clock.ts";
import { bearer, login, startApp, TEST_PASSWORD } from "../helpers/app.ts";
import { totpAt, verify } from "../helpers/mfa.ts";
import {
  companyAdmin, companyKit, freshCode, person, personWithTotp, serviceClient, signIn, wrongCode, type Person,
} from "../helpers/companies.ts";

const UA = "AuditSuite/1.0 (tap; +https://example.test)";
const ADDRESS = "203.0.113.9";
const MINUTE = 60_000;
const clock = manualClock(new Date("2026-11-28T10:00:05Z"));

/** Rows as the database holds them: the generated model type. */
type Row = AuditEvent;

interface ApiEvent extends Omit<Row, "occurredAt"> {
  occurredAt: string;
}

/** Field names whose string values are secrets, wherever they appear in a request or an answer. */
const SECRET_FIELDS = new Set([
  "password", "currentPassword", "newPassword", "code", "token", "refreshToken", "accessToken", "mfaToken", "enrollmentToken",
  "deviceToken", "secret", "otpauthUri", "recoveryCodes", "apiKey",
]);

t.test("audit log", async (t) => {
  const app = await startApp(t, { clock, config: { MFA_FAILURE_CAP: 3 } });

  // Every request of this file (helpers included) comes from one address with one
  // user agent; every secret sent or received is remembered for the no-secret check.
  const secrets = new Set<string>();
  const codes = new Set<string>();
  const requestIds = new Set<string>();
  const collect = (value: unknown, secretField = false): void => {
    if (typeof value === "string") {
      if (!secretField) return;
      if (/^\d{6}$/.test(value)) codes.add(value);
      else {
        secrets.add(value);
        if (/^[A-Z0-9]{4}(-[A-Z0-9]{4})+$/i.test(value)) {
          secrets.add(value.replaceAll("-", "").toUpperCase());
          secrets.add(value.replaceAll("-", "").toLowerCase());
        }
      }
    } else if (Array.isArray(value)) value.forEach((v) => collect(v, secretField));
    else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) collect(v, secretField || SECRET_FIELDS.has(k));
  };
  const original = app.inject.bind(app) as (options: InjectOptions) => Promise<LightMyRequestResponse>;
  const recording = async (options: InjectOptions): Promise<LightMyRequestResponse> => {
    const headers: Record<string, string> = { "user-agent": UA, ...(options.headers as Record<string, string> | undefined) };
    const res = await original({ ...options, remoteAddress: ADDRESS, headers });
    collect(options.payload);
    if (headers["x-api-key"]) secrets.add(headers["x-api-key"]);
    if (headers.authorization) secrets.add(headers.authorization.replace(/^Bearer /, ""));
    if (res.headers["content-type"]?.toString().startsWith("application/json") && res.body) collect(res.json());
    requestIds.add(String(res.headers["x-request-id"]));
    return res;
  };
  (app as unknown as { inject: typeof recording }).inject = recording;

  const prisma = app.database.prisma;
  const rowsOf = (res: LightMyRequestResponse): Promise<Row[]> =>
    prisma.auditEvent.findMany({ where: { requestId: String(res.headers["x-request-id"]) }, orderBy: { occurredAt: "asc" } });

  /** Exactly one record of this type came from this request, with when, who, where and what. */
  async function once(
    t: Test, res: LightMyRequestResponse, at: Date, type: string,
    expected: { actorType?: string; actorId?: string | null; subjectUserId: string | null; companyId?: string | null }, details?: object,
  ) {
    const rows = (await rowsOf(res)).filter((r) => r.type === type);
    t.equal(rows.length, 1, `${type}: exactly one record`);
    const row = rows[0];
    if (!row) return undefined;
    t.equal(row.occurredAt.toISOString(), at.toISOString(), `${type}: when`);
    t.equal(row.requestId, res.headers["x-request-id"], `${type}: the request id the answer carried`);
    t.equal(row.clientAddress, ADDRESS, `${type}: client address`);
    t.equal(row.userAgent, UA, `${type}: user agent`);
    t.match(row, { companyId: null, ...expected }, `${type}: actor, subject and company`);
    if (details) t.match(row.details, details, `${type}: details`);
    return row;
  }
  const anonymous = (subject: string | null) => ({ actorType: "anonymous", actorId: null, subjectUserId: subject });
  const byUser = (actor: Person, subject: string | null = actor.id) => ({ actorType: "user", actorId: actor.id, subjectUserId: subject });

  // The companies: an office O serving a client A.
  const kit = await companyKit(app);
  const svc = { actorType: "service", actorId: kit.serviceClientId };
  const support = await serviceClient(app, ["users:mfa-reset"]);
  const O = await kit.office("Audit Office");
  const A = await kit.company("Audit Client");
  const post = (url: string, payload?: object, headers: Record<string, string> = {}) => app.inject({ method: "POST", url, headers, ...(payload ? { payload } : {}) });
  const put = (url: string, payload?: object, headers: Record<string, string> = kit.headers) => app.inject({ method: "PUT", url, headers, ...(payload ? { payload } : {}) });
  const del = (url: string, headers: Record<string, string> = kit.headers, payload?: object) =>
    app.inject({ method: "DELETE", url, headers, ...(payload ? { payload } : {}) });

  const alice = await personWithTotp(app, clock); // member of A
  const sam = await person(app); // O staff, assigned to A
  const locky = await personWithTotp(app, clock); // O staff
  const dual = await person(app); // member of A and of O, assigned to A
  const bob = await person(app); // member of A, enrolls when A mandates
  await kit.member(A.id, bob.id);
  await kit.member(O.id, locky.id);

  await t.test("relation changes", async (t) => {
    let at = clock.now();
    let res = await put(`/v1/companies/${O.id}/clients/${A.id}`);
    await once(t, res, at, "client_added", { ...svc, subjectUserId: null, companyId: A.id }, { officeId: O.id, clientId: A.id });
    res = await put(`/v1/companies/${A.id}/members/${alice.id}`, { role: "user" });
    await once(t, res, at, "membership_set", { ...svc, subjectUserId: alice.id, companyId: A.id }, { role: "user", previousRole: null });
    for (const [company, who] of [[O, sam], [A, dual], [O, dual]] as const) await kit.member(company.id, who.id);
    clock.advance(MINUTE);
    at = clock.now();
    res = await put(`/v1/companies/${O.id}/clients/${A.id}/assignees/${sam.id}`);
    await once(t, res, at, "assignment_added", { ...svc, subjectUserId: sam.id, companyId: A.id }, { officeId: O.id, clientId: A.id });
    await kit.assign(O.id, A.id, dual.id);
    res = await del(`/v1/companies/${O.id}/clients/${A.id}/assignees/${dual.id}`);
    await once(t, res, at, "assignment_removed", { ...svc, subjectUserId: dual.id, companyId: A.id }, { officeId: O.id, clientId: A.id });
    await kit.assign(O.id, A.id, dual.id);
  });

  const oAdmin = await companyAdmin(app, clock, kit, O.id);
  const aAdmin = await companyAdmin(app, clock, kit, A.id);
  const phase1End = clock.now();
  clock.advance(5 * MINUTE);
  const phase2Start = clock.now();

  await t.test("sign-in, second step and trusted devices", async (t) => {
    let at = clock.now();
    let res = await login(app, alice.email, "not the password at all");
    t.equal(res.statusCode, 401);
    await once(t, res, at, "authn_login_fail", anonymous(alice.id), { reason: "invalid_credentials" });
    res = await login(app, "nobody@example.com", TEST_PASSWORD);
    await once(t, res, at, "authn_login_fail", anonymous(null));

    res = await login(app, sam.email);
    t.equal(res.json().status, "authenticated");
    await once(t, res, at, "authn_login_success", anonymous(sam.id), { amr: ["pwd"] });

    // Second step with a remembered device.
    let mfa = (await login(app, alice.email)).json().mfaToken;
    t.same((await rowsOf(await login(app, alice.email))).map((r) => r.type), [], "a password alone, with a second step to come, is no success yet");
    const code = freshCode(clock, alice.secret!);
    at = clock.now();
    res = await verify(app, { mfaToken: mfa, method: "totp", code, rememberDevice: true, deviceName: "Audit laptop" });
    t.equal(res.statusCode, 200);
    await once(t, res, at, "mfa_verify_success", anonymous(alice.id), { method: "totp" });
    await once(t, res, at, "authn_login_success", anonymous(alice.id), { amr: ["pwd", "otp", "mfa"] });
    const issued = await once(t, res, at, "trusted_device_issued", anonymous(alice.id), { name: "Audit laptop" });
    const deviceToken = res.json().deviceToken as string;
    const session = res.json() as { accessToken: string };

    clock.advance(MINUTE);
    at = clock.now();
    res = await login(app, alice.email, TEST_PASSWORD, { deviceToken });
    t.equal(res.json().status, "authenticated");
    await once(t, res, at, "trusted_device_used", anonymous(alice.id), { deviceId: (issued?.details as { deviceId: string }).deviceId });
    await once(t, res, at, "authn_login_success", anonymous(alice.id), { amr: ["pwd", "dt"] });

    const devices = (await app.inject({ method: "GET", url: "/v1/me/devices", headers: bearer(session.accessToken) })).json().devices;
    res = await del(`/v1/me/devices/${devices[0].id}`, bearer(session.accessToken));
    t.equal(res.statusCode, 204);
    await once(t, res, at, "trusted_device_revoked", byUser(alice), { deviceId: devices[0].id });

    // A wrong code, then a right one, then that right one again.
    mfa = (await login(app, alice.email)).json().mfaToken;
    clock.advance(MINUTE);
    at = clock.now();
    res = await verify(app, { mfaToken: mfa, method: "totp", code: wrongCode(alice.secret!, clock.now()) });
    t.equal(res.statusCode, 401);
    await once(t, res, at, "mfa_verify_fail", anonymous(alice.id), { reason: "totp_invalid" });
    t.equal((await rowsOf(res)).filter((r) => r.type === "mfa_locked").length, 0);
    const good = totpAt(alice.secret!, clock.now());
    t.equal((await verify(app, { mfaToken: mfa, method: "totp", code: good })).statusCode, 200);
    mfa = (await login(app, alice.email)).json().mfaToken;
    res = await verify(app, { mfaToken: mfa, method: "totp", code: good });
    t.equal(res.statusCode, 401);
    await once(t, res, at, "mfa_verify_fail", anonymous(alice.id), { reason: "totp_replay" });

    // A recovery code, and its replacement.
    clock.advance(MINUTE);
    at = clock.now();
    res = await verify(app, { mfaToken: mfa, method: "recovery_code", code: alice.recoveryCodes![0]! });
    t.equal(res.statusCode, 200, res.body);
    alice.recoveryCodes = res.json().recoveryCodes;
    await once(t, res, at, "recovery_code_used", anonymous(alice.id));
    await once(t, res, at, "recovery_code_replaced", anonymous(alice.id));
    await once(t, res, at, "mfa_verify_success", anonymous(alice.id), { method: "recovery_code" });
    await once(t, res, at, "authn_login_success", anonymous(alice.id), { amr: ["pwd", "rec", "mfa"] });

    // A new set on request.
    const code2 = freshCode(clock, alice.secret!);
    at = clock.now();
    res = await post("/v1/me/mfa/recovery-codes", { code: code2 }, bearer(res.json().accessToken));
    t.equal(res.statusCode, 200, res.body);
    await once(t, res, at, "recovery_codes_replaced", byUser(alice));
  });

  await t.test("lockout after consecutive second-step failures", async (t) => {
    const mfaToken = (await login(app, locky.email)).json().mfaToken;
    clock.advance(MINUTE);
    const at = clock.now();
    for (let i = 1; i <= 3; i++) {
      const res = await verify(app, { mfaToken, method: "totp", code: wrongCode(locky.secret!, clock.now()) });
      t.equal(res.statusCode, 401);
      await once(t, res, at, "mfa_verify_fail", anonymous(locky.id), { reason: "totp_invalid", failures: i });
      const locked = (await rowsOf(res)).filter((r) => r.type === "mfa_locked");
      if (i < 3) t.equal(locked.length, 0, `no lock after ${i} failures`);
      else await once(t, res, at, "mfa_locked", anonymous(locky.id), { failures: 3 });
    }
  });

  await t.test("factors enrolled, removed and reset", async (t) => {
    const session = (await login(app, sam.email)).json();
    let at = clock.now();
    const start = await post("/v1/me/mfa/totp", undefined, bearer(session.accessToken));
    t.equal(start.statusCode, 200);
    t.same((await rowsOf(start)).map((r) => r.type), [], "nothing is enrolled yet");
    const confirmCode = freshCode(clock, start.json().secret);
    at = clock.now();
    let res = await post("/v1/me/mfa/totp/confirm", { code: confirmCode }, bearer(session.accessToken));
    t.equal(res.statusCode, 200, res.body);
    await once(t, res, at, "mfa_enrolled", byUser(sam));
    sam.secret = start.json().secret;

    const disableCode = freshCode(clock, sam.secret!);
    at = clock.now();
    res = await del("/v1/me/mfa/totp", bearer(session.accessToken), { password: sam.password, code: disableCode });
    t.equal(res.statusCode, 204, res.body);
    await once(t, res, at, "mfa_disabled", byUser(sam));
    sam.secret = undefined;

    res = await del(`/v1/users/${alice.id}/mfa`, support.headers);
    t.equal(res.statusCode, 204);
    await once(t, res, at, "mfa_reset_by_support", { actorType: "service", actorId: support.id, subjectUserId: alice.id });
    alice.secret = undefined;
  });

  await t.test("policy changes and forced enrollment", async (t) => {
    const adminSession = await signIn(app, clock, aAdmin);
    let at = clock.now();
    let res = await put(`/v1/companies/${A.id}/security-policy`, { mandatoryTwoFactor: true }, bearer(adminSession.accessToken));
    t.equal(res.statusCode, 200, res.body);
    await once(t, res, at, "policy_changed", { ...byUser(aAdmin, null), companyId: A.id }, {
      old: { mandatoryTwoFactor: false, mandateSince: null, enrollmentDeadline: null },
      new: { mandatoryTwoFactor: true, mandateSince: at.toISOString(), enrollmentDeadline: null },
    });
    const told = (await rowsOf(res)).filter((r) => r.type === "policy_requires_enrollment");
    t.same(told.map((r) => r.subjectUserId).sort(), [alice.id, bob.id, dual.id, sam.id].sort(), "everyone reached without a factor is told, once");

    clock.advance(MINUTE);
    at = clock.now();
    res = await login(app, bob.email);
    t.equal(res.json().status, "mfa_enrollment_required");
    await once(t, res, at, "mfa_enrollment_required", anonymous(bob.id), { requiredBy: [A.id] });
    t.equal((await rowsOf(res)).filter((r) => r.type === "authn_login_success").length, 0, "no session, no success");
    const token = res.json().enrollmentToken as string;
    const start = await post("/v1/me/mfa/totp", undefined, bearer(token));
    const code = freshCode(clock, start.json().secret);
    at = clock.now();
    res = await post("/v1/me/mfa/totp/confirm", { code }, bearer(token));
    t.equal(res.statusCode, 200, res.body);
    bob.secret = start.json().secret;
    // The holder of an enrollment token has proved the password but has no session yet: anonymous, or the person.
    const enrolled = await once(t, res, at, "mfa_enrolled", { subjectUserId: bob.id });
    t.ok(enrolled && ["anonymous", "user"].includes(enrolled.actorType) && [null, bob.id].includes(enrolled.actorId), `mfa_enrolled actor: ${enrolled?.actorType}`);
    await once(t, res, at, "authn_login_success", { subjectUserId: bob.id }, { amr: ["pwd", "otp", "mfa"] });

    at = clock.now();
    res = await put(`/v1/companies/${A.id}/security-policy`, { mandatoryTwoFactor: false });
    t.equal(res.statusCode, 200);
    await once(t, res, at, "policy_changed", { ...svc, subjectUserId: null, companyId: A.id }, {
      old: { mandatoryTwoFactor: true }, new: { mandatoryTwoFactor: false, mandateSince: null },
    });
  });

  await t.test("relation changes by admins", async (t) => {
    const officeSession = await signIn(app, clock, oAdmin);
    const h = bearer(officeSession.accessToken);
    const at = clock.now();
    let res = await put(`/v1/companies/${O.id}/members/${bob.id}`, { role: "user" }, h);
    t.equal(res.statusCode, 204);
    await once(t, res, at, "membership_set", { ...byUser(oAdmin, bob.id), companyId: O.id }, { role: "user", previousRole: null });
    res = await put(`/v1/companies/${O.id}/members/${bob.id}`, { role: "admin" }, h);
    await once(t, res, at, "membership_set", { ...byUser(oAdmin, bob.id), companyId: O.id }, { role: "admin", previousRole: "user" });
    res = await put(`/v1/companies/${O.id}/clients/${A.id}/assignees/${bob.id}`, undefined, h);
    t.equal(res.statusCode, 204);
    await once(t, res, at, "assignment_added", { ...byUser(oAdmin, bob.id), companyId: A.id }, { officeId: O.id, clientId: A.id });
    res = await del(`/v1/companies/${O.id}/clients/${A.id}/assignees/${bob.id}`, h);
    await once(t, res, at, "assignment_removed", { ...byUser(oAdmin, bob.id), companyId: A.id });
    res = await del(`/v1/companies/${O.id}/members/${bob.id}`, h);
    t.equal(res.statusCode, 204);
    await once(t, res, at, "membership_removed", { ...byUser(oAdmin, bob.id), companyId: O.id });
    res = await del(`/v1/companies/${A.id}/members/${dual.id}`);
    await once(t, res, at, "membership_removed", { ...svc, subjectUserId: dual.id, companyId: A.id });
    res = await del(`/v1/companies/${O.id}/clients/${A.id}`);
    t.equal(res.statusCode, 204);
    await once(t, res, at, "client_removed", { ...svc, subjectUserId: null, companyId: A.id }, { officeId: O.id, clientId: A.id });
  });

  await t.test("every record: exactly once per action, where and when, and no secret", async (t) => {
    const rows: Row[] = await prisma.auditEvent.findMany({ orderBy: { occurredAt: "asc" } });
    t.ok(rows.length > 50, `${rows.length} records`);
    const seen = new Map<string, number>();
    for (const row of rows) {
      const key = `${row.requestId} ${row.type} ${row.subjectUserId}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    const twice = [...seen].filter(([, n]) => n > 1).map(([key]) => key);
    t.same(twice, [], "no action is recorded twice for the same person");
    t.ok(rows.every((r) => r.requestId && requestIds.has(r.requestId)), "each record names the request it came from");
    t.ok(rows.every((r) => r.clientAddress === ADDRESS && r.userAgent === UA), "each record has the client address and user agent");
    t.ok(rows.every((r) => ["user", "service", "anonymous"].includes(r.actorType)), "each record has an actor type");
    t.ok(rows.filter((r) => r.actorType !== "anonymous").every((r) => r.actorId), "and an actor id when the actor is known");

    t.ok(secrets.size > 40 && codes.size > 10, `${secrets.size} secrets and ${codes.size} codes went over the wire`);
    const everything = JSON.stringify(rows);
    const leaked = [...secrets].filter((s) => s.length >= 8 && everything.includes(s));
    t.same(leaked, [], "no password, token, API key, TOTP secret or recovery code in any record");
    const free = JSON.stringify(rows.map((r) => [r.type, r.details, r.userAgent]));
    t.same([...codes].filter((c) => free.includes(c)), [], "no one-time code in any record's details");
  });

  // Reading the log.
  const aSession = await signIn(app, clock, aAdmin);
  const oSession = await signIn(app, clock, oAdmin);
  const page = (companyId: string, query: string, token: string) =>
    app.inject({ method: "GET", url: `/v1/companies/${companyId}/audit-events${query}`, headers: bearer(token) });
  const all = async (companyId: string, token: string, query = ""): Promise<ApiEvent[]> => {
    const res = await page(companyId, `?limit=100${query}`, token);
    if (res.statusCode !== 200) throw new Error(res.body);
    if (res.json().nextCursor !== null) throw new Error("more than 100 events: raise the page size of this test");
    return res.json().events;
  };
  const membersOf = async (companyId: string) => (await prisma.membership.findMany({ where: { companyId }, select: { userId: true } })).map((m) => m.userId);

  await t.test("a company admin reads the events of the company and of its members", async (t) => {
    const events = await all(A.id, aSession.accessToken);
    const members = await membersOf(A.id);
    t.ok(events.length > 10);
    t.ok(events.every((e) => e.companyId === A.id || members.includes(e.subjectUserId ?? "")), "the company's events and its members' only");
    t.ok(events.some((e) => e.type === "policy_changed" && e.companyId === A.id), "the company's policy changes");
    t.ok(events.some((e) => e.subjectUserId === alice.id && e.type === "mfa_verify_fail"), "a member's sign-in events");
    t.notOk(events.some((e) => e.subjectUserId === locky.id), "not the office staff's own sign-ins");
    t.ok(events.every((e) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(e.occurredAt)), "times in UTC");
    const newestFirst = (a: ApiEvent, b: ApiEvent) => (a.occurredAt !== b.occurredAt ? (a.occurredAt < b.occurredAt ? 1 : -1) : a.id < b.id ? 1 : -1);
    t.same([...events].sort(newestFirst).map((e) => e.id), events.map((e) => e.id), "newest first");
    const ids = new Set(events.map((e) => e.id));
    // Since the tenant-boundary hardening a member's personal events count from the start of their membership.
    const since = await prisma.membership.findMany({ where: { companyId: A.id }, select: { userId: true, createdAt: true } });
    const mustSee = await prisma.auditEvent.findMany({
      where: { OR: [{ companyId: A.id }, ...since.map((m) => ({ companyId: null, subjectUserId: m.userId, occurredAt: { gte: m.createdAt } }))] },
      select: { id: true },
    });
    t.ok(mustSee.length > 10 && mustSee.every((e) => ids.has(e.id)), "every event of the company, and every company-less event of its members since they joined");
  });

  await t.test("an office admin sees the office's staff, not the client's own people", async (t) => {
    const events = await all(O.id, oSession.accessToken);
    t.ok(events.some((e) => e.subjectUserId === locky.id && e.type === "mfa_locked"), "their staff's lockout");
    t.ok(events.some((e) => e.subjectUserId === sam.id && e.type === "mfa_enrolled"), "their staff's factor");
    t.notOk(events.some((e) => e.subjectUserId === alice.id), "not the client's member");
    t.notOk(events.some((e) => e.type === "policy_changed"), "not the client's policy");
    t.equal((await page(A.id, "", oSession.accessToken)).statusCode, 403, "nor the client's log");
    t.equal((await page(O.id, "", aSession.accessToken)).statusCode, 403, "and the other way round");
  });

  await t.test("paging returns every event exactly once", async (t) => {
    const everything = await all(A.id, aSession.accessToken);
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await page(A.id, `?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, aSession.accessToken);
      t.equal(res.statusCode, 200);
      t.ok(res.json().events.length <= 3);
      ids.push(...res.json().events.map((e: ApiEvent) => e.id));
      cursor = res.json().nextCursor;
      pages++;
    } while (cursor && pages < 100);
    t.same(ids, everything.map((e) => e.id), "the same events in the same order, none twice, none missing");
    t.ok(pages >= 4);
  });

  await t.test("filters by type and by time", async (t) => {
    const everything = await all(A.id, aSession.accessToken);
    const logins = await all(A.id, aSession.accessToken, "&type=authn_login_success");
    t.ok(logins.length > 0);
    t.same(logins.map((e) => e.id), everything.filter((e) => e.type === "authn_login_success").map((e) => e.id));
    const two = await all(A.id, aSession.accessToken, "&type=policy_changed,membership_set");
    t.same(two.map((e) => e.id), everything.filter((e) => ["policy_changed", "membership_set"].includes(e.type)).map((e) => e.id));
    t.same(await all(A.id, aSession.accessToken, "&type=no_such_event"), []);

    const from = phase2Start.toISOString();
    const to = new Date(phase2Start.getTime() + 3 * MINUTE).toISOString();
    const window = await all(A.id, aSession.accessToken, `&from=${from}&to=${to}`);
    const expected = everything.filter((e) => e.occurredAt >= from && e.occurredAt < to);
    t.ok(expected.length > 0 && expected.length < everything.length);
    t.same(window.map((e) => e.id), expected.map((e) => e.id), "from inclusive, to exclusive");
    const early = await all(A.id, aSession.accessToken, `&to=${new Date(phase1End.getTime() + 1).toISOString()}`);
    t.same(early.map((e) => e.id), everything.filter((e) => e.occurredAt <= phase1End.toISOString()).map((e) => e.id));
    const combined = await all(A.id, aSession.accessToken, `&type=authn_login_success&from=${from}`);
    t.same(combined.map((e) => e.id), everything.filter((e) => e.type === "authn_login_success" && e.occurredAt >= from).map((e) => e.id));
  });

  await t.test("a person reads their own events, and only those", async (t) => {
    // Locked out of TOTP, locky signs in with the recovery code.
    const mfa = (await login(app, locky.email)).json();
    t.same(mfa.methods, ["recovery_code"]);
    const session = (await verify(app, { mfaToken: mfa.mfaToken, method: "recovery_code", code: locky.recoveryCodes![0]! })).json();
    const res = await app.inject({ method: "GET", url: "/v1/me/audit-events?limit=100", headers: bearer(session.accessToken) });
    t.equal(res.statusCode, 200);
    const events: ApiEvent[] = res.json().events;
    t.ok(events.length > 0);
    t.ok(events.every((e) => e.subjectUserId === locky.id), "only their own");
    t.equal(events.length, await prisma.auditEvent.count({ where: { subjectUserId: locky.id } }), "all of their own");
    t.ok(events.some((e) => e.type === "mfa_locked"));
    t.ok(events.every((e) => e.occurredAt.endsWith("Z")));
    const filtered = await app.inject({ method: "GET", url: "/v1/me/audit-events?type=mfa_verify_fail", headers: bearer(session.accessToken) });
    t.equal(filtered.json().events.length, 3);
  });

  await t.test("who may not read a company's log", async (t) => {
    const member = await signIn(app, clock, bob); // a plain member of A (enrolled under the mandate)
    t.equal((await page(A.id, "", member.accessToken)).statusCode, 403, "a member who is not an admin");
    t.equal((await app.inject({ method: "GET", url: `/v1/companies/${A.id}/audit-events` })).statusCode, 401, "no credentials");
    t.equal((await app.inject({ method: "GET", url: `/v1/companies/${A.id}/audit-events`, headers: kit.headers })).statusCode, 401, "a service client");
  });

  await t.test("an admin does not read another company's events through a member both companies share", async (t) => {
    const X = await kit.company("Shared X");
    const Y = await kit.company("Shared Y");
    const shared = await person(app);
    await kit.member(X.id, shared.id);
    await kit.member(Y.id, shared.id);
    await kit.member(Y.id, shared.id, "admin"); // Y's business: a role change in Y
    await kit.setPolicy(Y.id, true); // Y's business: Y's mandate reaches the shared member
    const xAdmin = await companyAdmin(app, clock, kit, X.id);
    const events = await all(X.id, xAdmin.session.accessToken);
    t.ok(events.some((e) => e.subjectUserId === shared.id), "X's admin sees the shared member's events");
    const foreign = events.filter((e) => e.companyId !== null && e.companyId !== X.id);
    t.same(foreign.map((e) => `${e.type} (company ${e.companyId === Y.id ? "Y" : e.companyId})`), [], "but none recorded for another company");
  });
});
