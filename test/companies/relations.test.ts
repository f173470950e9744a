// Memberships, office-client relations and assignments: removing a relation
// removes what it implied (an assignment needs both the office membership and the
// office-client relation), and relations that make no sense are refused.
import t from "tap";
import { manualClock } from "../helpers/clock.ts";
import { createApiKey, startApp } from "../helpers/app.ts";
import { companyKit, loginAnswer, person, source, type Person } from "../helpers/companies.ts";

const clock = manualClock(new Date("2026-11-28T10:00:05Z"));
const MISSING = "00000000-0000-4000-8000-000000000000";

t.test("relations", async (t) => {
  const app = await startApp(t, { clock });
  const kit = await companyKit(app);
  const h = kit.headers;
  const usersRead = { "x-api-key": await createApiKey(app, ["users:read"]) };
  const requiredBy = async (who: Person) =>
    (await app.inject({ method: "GET", url: `/v1/users/${who.id}/security`, headers: usersRead })).json().requiredBy;
  const assigneesOf = async (clientId: string) => (await kit.impact(clientId)).people.filter((p) => p.via === "assignment").map((p) => p.userId);

  await t.test("removing a relation removes what it implied", async (t) => {
    const office = await kit.office("Relations Office");
    const client = await kit.company("Relations Client");
    await kit.setPolicy(client.id, true);
    await kit.serve(office.id, client.id);
    const staff = await person(app);
    await kit.member(office.id, staff.id);
    await kit.assign(office.id, client.id, staff.id);
    t.same(await requiredBy(staff), [source(client, "assignment")]);
    t.equal((await loginAnswer(app, staff)).json().status, "mfa_enrollment_required");

    // The office stops serving the client: the assignment goes with it, and stays gone.
    await kit.unserve(office.id, client.id);
    t.same(await requiredBy(staff), []);
    t.same(await assigneesOf(client.id), []);
    t.equal((await loginAnswer(app, staff)).json().status, "authenticated", "the client's mandate no longer reaches the person");
    await kit.serve(office.id, client.id);
    t.same(await requiredBy(staff), [], "serving the client again does not bring the assignment back");
    t.equal((await loginAnswer(app, staff)).json().status, "authenticated");

    // The person leaves the office: the assignment goes with the membership.
    await kit.assign(office.id, client.id, staff.id);
    t.same(await requiredBy(staff), [source(client, "assignment")]);
    await kit.removeMember(office.id, staff.id);
    t.same(await requiredBy(staff), []);
    t.same(await assigneesOf(client.id), []);
    t.equal((await loginAnswer(app, staff)).json().status, "authenticated");
    await kit.member(office.id, staff.id);
    t.same(await requiredBy(staff), [], "rejoining the office does not bring the assignment back");

    // Removing the assignment itself.
    await kit.assign(office.id, client.id, staff.id);
    await kit.unassign(office.id, client.id, staff.id);
    t.same(await requiredBy(staff), []);

    // Leaving a mandating company.
    const member = await person(app);
    await kit.member(client.id, member.id);
    t.same(await requiredBy(member), [source(client, "membership")]);
    await kit.removeMember(client.id, member.id);
    t.same(await requiredBy(member), []);
    t.equal((await loginAnswer(app, member)).json().status, "authenticated");
  });

  await t.test("DELETE answers 404 when there is nothing to remove", async (t) => {
    const office = await kit.office("Nothing Office");
    const client = await kit.company("Nothing Client");
    const someone = await person(app);
    const del = (url: string) => app.inject({ method: "DELETE", url, headers: h });
    const cases: [string, string][] = [
      ["a member who is not one", `/v1/companies/${client.id}/members/${someone.id}`],
      ["a member of a company that does not exist", `/v1/companies/${MISSING}/members/${someone.id}`],
      ["a client the office does not serve", `/v1/companies/${office.id}/clients/${client.id}`],
      ["a client of an office that does not exist", `/v1/companies/${MISSING}/clients/${client.id}`],
      ["an assignment that does not exist", `/v1/companies/${office.id}/clients/${client.id}/assignees/${someone.id}`],
    ];
    for (const [what, url] of cases) {
      const res = await del(url);
      t.equal(res.statusCode, 404, `${what}: ${res.body}`);
      t.equal(res.json().code, "NOT_FOUND");
    }
    await kit.serve(office.id, client.id);
    await kit.member(office.id, someone.id);
    const notAssigned = await del(`/v1/companies/${office.id}/clients/${client.id}/assignees/${someone.id}`);
    t.equal(notAssigned.statusCode, 404, "a served client and an office member, but no assignment");
    await kit.assign(office.id, client.id, someone.id);
    t.equal((await del(`/v1/companies/${office.id}/clients/${client.id}/assignees/${someone.id}`)).statusCode, 204);
    t.equal((await del(`/v1/companies/${office.id}/clients/${client.id}/assignees/${someone.id}`)).statusCode, 404, "removed twice");
    t.equal((await del(`/v1/companies/${office.id}/clients/${client.id}`)).statusCode, 204);
    t.equal((await del(`/v1/companies/${office.id}/clients/${client.id}`)).statusCode, 404, "removed twice");
    t.equal((await del(`/v1/companies/${office.id}/members/${someone.id}`)).statusCode, 204);
    t.equal((await del(`/v1/companies/${office.id}/members/${someone.id}`)).statusCode, 404, "removed twice");
  });

  await t.test("relations that make no sense are refused and change nothing", async (t) => {
    const office = await kit.office("Sense Office");
    const otherOffice = await kit.office("Other Office");
    const client = await kit.company("Sense Client");
    const plain = await kit.company("Plain AB");
    await kit.serve(office.id, client.id);
    const outsider = await person(app);
    const put = (url: string) => app.inject({ method: "PUT", url, headers: h });

    const notMember = await put(`/v1/companies/${office.id}/clients/${client.id}/assignees/${outsider.id}`);
    t.equal(notMember.statusCode, 409, notMember.body);
    t.equal(notMember.json().code, "NOT_AN_OFFICE_MEMBER");
    await kit.member(client.id, outsider.id);
    const clientMember = await put(`/v1/companies/${office.id}/clients/${client.id}/assignees/${outsider.id}`);
    t.equal(clientMember.json().code, "NOT_AN_OFFICE_MEMBER", "a member of the client is not a member of the office");
    await kit.member(otherOffice.id, outsider.id);
    const otherOfficeMember = await put(`/v1/companies/${office.id}/clients/${client.id}/assignees/${outsider.id}`);
    t.equal(otherOfficeMember.json().code, "NOT_AN_OFFICE_MEMBER", "nor is a member of another office");
    t.same(await assigneesOf(client.id), []);

    const notServed = await put(`/v1/companies/${otherOffice.id}/clients/${client.id}/assignees/${outsider.id}`);
    t.equal(notServed.statusCode, 404, "the office does not serve that client");

    const notOffice = await put(`/v1/companies/${plain.id}/clients/${client.id}`);
    t.equal(notOffice.statusCode, 409, notOffice.body);
    t.equal(notOffice.json().code, "NOT_AN_ACCOUNTING_OFFICE");
    const self = await put(`/v1/companies/${office.id}/clients/${office.id}`);
    t.equal(self.statusCode, 409, self.body);
    t.equal(self.json().code, "INVALID_RELATION");
    t.equal((await put(`/v1/companies/${office.id}/clients/${MISSING}`)).statusCode, 404, "a client that does not exist");
    t.equal((await put(`/v1/companies/${MISSING}/clients/${client.id}`)).statusCode, 404, "an office that does not exist");
    const unknownUser = await app.inject({ method: "PUT", url: `/v1/companies/${client.id}/members/${MISSING}`, headers: h, payload: { role: "user" } });
    t.equal(unknownUser.statusCode, 404, "a user who does not exist");
    const unknownCompany = await app.inject({ method: "PUT", url: `/v1/companies/${MISSING}/members/${outsider.id}`, headers: h, payload: { role: "user" } });
    t.equal(unknownCompany.statusCode, 404, "a company that does not exist");

    // Nothing was created by the refusals: the plain company serves nobody, the office is nobody's client.
    const relations = await app.database.prisma.officeClient.findMany({ where: { OR: [{ officeId: plain.id }, { clientId: office.id }] } });
    t.same(relations, []);
  });
});
