// Who a company's "Mandatory two-step verification for all users" reaches
// (design/PRODUCT.md, the help article): a company's mandate reaches its members
// and the accounting-office staff assigned to its assignments; an office's own
// mandate reaches its staff and none of its clients' people.
import t from "tap";
import { manualClock } from "../helpers/clock.ts";
import { bearer, createApiKey, startApp } from "../helpers/app.ts";
import { companyKit, loginAnswer, person, signIn, sortSources, source, type Company, type Person, type Source } from "../helpers/companies.ts";

t.test("the mandate matrix", async (t) => {
  const clock = manualClock(new Date("2026-11-28T10:00:05Z"));
  const app = await startApp(t, { clock });
  const kit = await companyKit(app);
  const usersRead = { "x-api-key": await createApiKey(app, ["users:read"]) };

  const O = await kit.office("Office O");
  const A = await kit.company("Client A");
  const B = await kit.company("Client B");
  await kit.serve(O.id, A.id);
  await kit.serve(O.id, B.id);

  const people: Record<string, Person> = {
    memberOfA: await person(app),
    staffOnA: await person(app),
    staffUnassigned: await person(app),
    memberOfB: await person(app),
    staffOnB: await person(app),
    memberOfAandO: await person(app),
  };
  await kit.member(A.id, people.memberOfA!.id);
  await kit.member(O.id, people.staffOnA!.id);
  await kit.assign(O.id, A.id, people.staffOnA!.id);
  await kit.member(O.id, people.staffUnassigned!.id);
  await kit.member(B.id, people.memberOfB!.id);
  await kit.member(O.id, people.staffOnB!.id);
  await kit.assign(O.id, B.id, people.staffOnB!.id);
  await kit.member(A.id, people.memberOfAandO!.id);
  await kit.member(O.id, people.memberOfAandO!.id);

  const none: Source[] = [];
  const scenarios: { name: string; mandating: Company[]; expected: Record<string, Source[]> }[] = [
    {
      name: "A mandates",
      mandating: [A],
      expected: {
        memberOfA: [source(A, "membership")],
        staffOnA: [source(A, "assignment")],
        staffUnassigned: none,
        memberOfB: none,
        staffOnB: none,
        memberOfAandO: [source(A, "membership")],
      },
    },
    {
      name: "O mandates",
      mandating: [O],
      expected: {
        memberOfA: none,
        staffOnA: [source(O, "membership")],
        staffUnassigned: [source(O, "membership")],
        memberOfB: none,
        staffOnB: [source(O, "membership")],
        memberOfAandO: [source(O, "membership")],
      },
    },
    {
      name: "B mandates",
      mandating: [B],
      expected: {
        memberOfA: none, staffOnA: none, staffUnassigned: none, memberOfB: [source(B, "membership")], staffOnB: [source(B, "assignment")], memberOfAandO: none,
      },
    },
    {
      name: "A and O mandate",
      mandating: [A, O],
      expected: {
        memberOfA: [source(A, "membership")],
        staffOnA: [source(A, "assignment"), source(O, "membership")],
        staffUnassigned: [source(O, "membership")],
        memberOfB: none,
        staffOnB: [source(O, "membership")],
        memberOfAandO: [source(A, "membership"), source(O, "membership")],
      },
    },
    {
      name: "none mandates",
      mandating: [],
      expected: { memberOfA: none, staffOnA: none, staffUnassigned: none, memberOfB: none, staffOnB: none, memberOfAandO: none },
    },
  ];

  for (const scenario of scenarios) {
    await t.test(scenario.name, async (t) => {
      for (const c of [O, A, B]) await kit.setPolicy(c.id, scenario.mandating.includes(c));
      for (const [label, who] of Object.entries(people)) {
        const expected = sortSources(scenario.expected[label]!);
        const res = await loginAnswer(app, who);
        t.equal(res.statusCode, 200, `${label}: login answers`);
        const body = res.json();
        const state = (await app.inject({ method: "GET", url: `/v1/users/${who.id}/security`, headers: usersRead })).json();
        t.same(sortSources(state.requiredBy), expected, `${label}: GET /v1/users/{id}/security requiredBy`);
        t.equal(state.required, expected.length > 0, `${label}: GET /v1/users/{id}/security required`);
        if (expected.length > 0) {
          t.equal(body.status, "mfa_enrollment_required", `${label}: must enroll`);
          t.match(body.enrollmentToken, /^enr_/, `${label}: gets an enrollment token`);
          t.notOk(body.accessToken, `${label}: no session`);
          t.same(sortSources(body.requiredBy), expected, `${label}: login requiredBy`);
        } else {
          t.equal(body.status, "authenticated", `${label}: signed in`);
          t.notOk(body.enrollment, `${label}: no enrollment notice`);
          const me = await app.inject({ method: "GET", url: "/v1/me", headers: bearer(body.accessToken) });
          t.equal(me.statusCode, 200);
          t.same(me.json().security, state, `${label}: GET /v1/me security agrees with GET /v1/users/{id}/security`);
          t.equal(me.json().security.required, false);
          t.same(me.json().security.requiredBy, []);
        }
      }

      // The dry run names the same people, each once per way the mandate reaches them.
      const expectedImpact: Record<string, [string, string, string | null][]> = {
        [A.id]: [["memberOfA", "membership", null], ["memberOfAandO", "membership", null], ["staffOnA", "assignment", O.id]],
        [B.id]: [["memberOfB", "membership", null], ["staffOnB", "assignment", O.id]],
        [O.id]: [["memberOfAandO", "membership", null], ["staffOnA", "membership", null], ["staffOnB", "membership", null], ["staffUnassigned", "membership", null]],
      };
      const label = (id: string) => Object.entries(people).find(([, p]) => p.id === id)?.[0] ?? id;
      for (const c of [O, A, B]) {
        const impact = await kit.impact(c.id);
        const got = impact.people.map((p) => [label(p.userId), p.via, p.officeId] as [string, string, string | null]).sort((a, b) => a.join().localeCompare(b.join()));
        t.same(got, expectedImpact[c.id], `impact of ${c.name}`);
        t.equal(impact.total, got.length);
        t.equal(impact.withoutFactor, got.length, "nobody has a factor yet");
        t.ok(impact.people.every((p) => !p.hasFactor));
      }
    });
  }

  await t.test("2SV belongs to the person: once enrolled under a mandate, every sign-in asks for it", async (t) => {
    await kit.setPolicy(A.id, true);
    const who = people.memberOfAandO!;
    const session = await signIn(app, clock, who); // forced enrollment through A's mandate
    const me = (await app.inject({ method: "GET", url: "/v1/me", headers: bearer(session.accessToken) })).json();
    t.same(me.security.requiredBy, [source(A, "membership")]);
    t.equal(me.security.twoStepEnabled, true);
    const usersReadState = (await app.inject({ method: "GET", url: `/v1/users/${who.id}/security`, headers: usersRead })).json();
    t.same(me.security, usersReadState);

    const impact = await kit.impact(A.id);
    t.same(impact.people.filter((p) => p.hasFactor).map((p) => p.userId), [who.id]);
    t.equal(impact.withoutFactor, impact.total - 1);

    await kit.setPolicy(A.id, false);
    const res = (await loginAnswer(app, who)).json();
    t.equal(res.status, "mfa_required", "turned on, it applies with no mandate left");
    const state = (await app.inject({ method: "GET", url: `/v1/users/${who.id}/security`, headers: usersRead })).json();
    t.equal(state.required, true);
    t.same(state.requiredBy, []);
  });
});
