// Tenant boundaries of the audit log: a company sees a person's personal events
// only from the start of their membership, and only its own context; the person
// hears when a company takes them in (issue: security hardening, "Tenant boundaries").
import t from "tap";
import { manualClock } from "../helpers/clock.ts";
import { bearer, startApp } from "../helpers/app.ts";
import { companyAdmin, companyKit, person, signIn } from "../helpers/companies.ts";
import { startReceiver } from "../helpers/webhook-receiver.ts";

const clock = manualClock(new Date("2026-11-28T10:00:05Z"));
const WEBHOOK_SECRET = "w".repeat(40);

type Event = { type: string; subjectUserId: string | null; occurredAt: string; clientAddress: string | null };

t.test("an admin who adds an existing person by id cannot read that person's sign-ins from before the membership began", async (t) => {
  const receiver = await startReceiver(t);
  const app = await startApp(t, { clock, config: { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET } });
  const kit = await companyKit(app);
  const C = await kit.company("Curious Ltd");
  const admin = await companyAdmin(app, clock, kit, C.id);
  const target = await person(app);

  await signIn(app, clock, target);
  const before = await app.inject({ method: "POST", url: "/v1/auth/login", payload: { email: target.email, password: "wrong password for the record" } });
  t.equal(before.statusCode, 401, "an earlier failed sign-in is on record");
  clock.advance(60_000);

  const added = await app.inject({ method: "PUT", url: `/v1/companies/${C.id}/members/${target.id}`, headers: admin.headers, payload: { role: "user" } });
  t.equal(added.statusCode, 204, "the admin adds the person by id");
  clock.advance(60_000);
  await signIn(app, clock, target);

  const page = await app.inject({ method: "GET", url: `/v1/companies/${C.id}/audit-events?limit=100`, headers: admin.headers });
  t.equal(page.statusCode, 200);
  const events = (page.json().events as Event[]).filter((e) => e.subjectUserId === target.id);
  const joinedAt = events.find((e) => e.type === "membership_set")!.occurredAt;
  t.ok(joinedAt, "the membership itself is the company's event");
  t.same(events.filter((e) => e.occurredAt < joinedAt), [], "nothing of the person from before they joined");
  t.notOk(events.some((e) => e.type === "authn_login_fail"), "the earlier failed sign-in stays hidden");
  t.ok(events.some((e) => e.type === "authn_login_success" && e.occurredAt > joinedAt), "a sign-in after joining is visible");

  const own = await app.inject({ method: "GET", url: "/v1/me/audit-events?limit=100", headers: bearer((await signIn(app, clock, target)).accessToken) });
  t.ok((own.json().events as Event[]).some((e) => e.type === "authn_login_fail"), "the person still sees their whole history");

  const toTarget = () => receiver.deliveries.filter((d) => d.payload.type === "membership_set" && d.payload.userId === target.id);
  for (let waited = 0; toTarget().length === 0 && waited < 5_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
  const told = toTarget();
  t.equal(told.length, 1, "the person is told a company took them in");
  t.equal((told[0]?.payload.details as Record<string, unknown> | undefined)?.companyId, C.id);
});

t.test("a company never sees a member's events from another company's context", async (t) => {
  const app = await startApp(t, { clock });
  const kit = await companyKit(app);
  const A = await kit.company("Alpha");
  const B = await kit.company("Beta");
  const adminOfA = await companyAdmin(app, clock, kit, A.id);
  const both = await person(app);
  await kit.member(A.id, both.id);
  await kit.member(B.id, both.id);
  await kit.member(B.id, both.id, "admin");
  const page = await app.inject({ method: "GET", url: `/v1/companies/${A.id}/audit-events?limit=100`, headers: adminOfA.headers });
  const companies = new Set((page.json().events as Array<{ companyId: string | null }>).map((e) => e.companyId));
  t.notOk(companies.has(B.id), "B's membership changes stay in B");
});
