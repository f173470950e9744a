// Linking a person to their external identity (service clients with users:write).
// A subject belongs to one person at most (the database's primary key); a person
// has one subject per provider; linking the same again changes nothing.
import t from "tap";
import { randomUUID } from "node:crypto";
import { decodeJwt } from "jose";
import { manualClock } from "../helpers/clock.ts";
import type { App } from "../../src/http/app-type.ts";
import { createApiKey, createUser, startApp } from "../helpers/app.ts";
import { federatedSignIn, forbidNetwork, providerConfig, providerKey, signAssertion } from "./provider.ts";

const network = forbidNetwork(t);
const clock = manualClock(new Date("2026-11-28T10:00:00Z"));
const key = await providerKey("ES256", "es-1");
const app: App = await startApp(t, { clock, config: await providerConfig(t, [key]) });
const writer = { "x-api-key": await createApiKey(app, ["users:write"]) };

// Each change a second later, so the audit events' order is their occurrence time.
function link(userId: string, subject: string, headers: Record<string, string> = writer) {
  clock.advance(1000);
  return app.inject({ method: "PUT", url: `/v1/users/${userId}/external-identity`, headers, payload: { subject } });
}
function unlink(userId: string, headers: Record<string, string> = writer) {
  clock.advance(1000);
  return app.inject({ method: "DELETE", url: `/v1/users/${userId}/external-identity`, headers });
}
const signInAs = async (subject: string) => federatedSignIn(app, await signAssertion(key, subject, clock));
const newSubject = () => `bankid-${randomUUID()}`;

const linkEvents = (userId: string) =>
  app.database.prisma.auditEvent.findMany({ where: { subjectUserId: userId, type: { startsWith: "external_identity_" } }, orderBy: { occurredAt: "asc" } });

t.test("only a service client with users:write may link or unlink", async (t) => {
  const user = await createUser(app);
  const none = await link(user.id, newSubject(), {});
  t.equal(none.statusCode, 401);
  t.equal(none.json().code, "INVALID_CLIENT");
  const reader = { "x-api-key": await createApiKey(app, ["users:read"]) };
  const wrongScope = await link(user.id, newSubject(), reader);
  t.equal(wrongScope.statusCode, 403);
  t.equal(wrongScope.json().code, "INSUFFICIENT_SCOPE");
  t.equal((await unlink(user.id, reader)).json().code, "INSUFFICIENT_SCOPE");
  t.equal((await unlink(user.id, {})).statusCode, 401);
  const person = await app.inject({ method: "PUT", url: `/v1/users/${user.id}/external-identity`, headers: { authorization: "Bearer x" }, payload: { subject: "s" } });
  t.equal(person.statusCode, 401, "a person's bearer token is not a service key");
});

t.test("a linked subject signs the person in; linking it again is idempotent", async (t) => {
  const user = await createUser(app);
  const subject = newSubject();
  t.equal((await link(user.id, subject)).statusCode, 204);
  t.equal((await link(user.id, subject)).statusCode, 204, "the same link again");
  t.equal((await signInAs(subject)).json().status, "authenticated");
  const events = await linkEvents(user.id);
  t.same(events.map((e) => e.type), ["external_identity_linked"], "one event: the repeat changed nothing");
  t.same(events[0]!.details, { provider: "bankid", replacedEarlier: false });
  t.notOk(JSON.stringify(events).includes(subject), "the subject stays out of the audit log");
});

t.test("a subject linked to one person cannot be linked to another (409)", async (t) => {
  const [first, second] = [await createUser(app), await createUser(app)];
  const subject = newSubject();
  await link(first.id, subject);
  const res = await link(second.id, subject);
  t.equal(res.statusCode, 409);
  t.equal(res.json().code, "EXTERNAL_IDENTITY_TAKEN");
  const res2 = await signInAs(subject);
  t.equal(decodeJwt(res2.json().accessToken).sub, first.id, "the subject still signs in its first owner");
  t.same(await linkEvents(second.id), []);
});

t.test("two services linking one subject to two persons at once: exactly one wins", async (t) => {
  const [first, second] = [await createUser(app), await createUser(app)];
  const subject = newSubject();
  const answers = await Promise.all([link(first.id, subject), link(second.id, subject)]);
  t.same(answers.map((r) => r.statusCode).sort(), [204, 409]);
  const owners = await app.database.prisma.externalIdentity.findMany({ where: { subject }, select: { userId: true } });
  t.equal(owners.length, 1);
  t.equal(decodeJwt((await signInAs(subject)).json().accessToken).sub, owners[0]!.userId);
});

t.test("linking a new subject replaces the person's earlier one", async (t) => {
  const user = await createUser(app);
  const [old, current] = [newSubject(), newSubject()];
  await link(user.id, old);
  t.equal((await link(user.id, current)).statusCode, 204);
  t.equal((await signInAs(old)).statusCode, 401, "the earlier subject no longer signs in");
  t.equal((await signInAs(current)).statusCode, 200);
  t.equal(await app.database.prisma.externalIdentity.count({ where: { userId: user.id } }), 1);
  t.same((await linkEvents(user.id)).map((e) => e.details), [
    { provider: "bankid", replacedEarlier: false },
    { provider: "bankid", replacedEarlier: true },
  ]);
});

t.test("unknown users and invalid input: 404 and 400, nothing stored", async (t) => {
  const unknown = await link(randomUUID(), newSubject());
  t.equal(unknown.statusCode, 404);
  t.equal(unknown.json().code, "NOT_FOUND");
  t.equal((await link("not-a-uuid", newSubject())).statusCode, 400);
  const user = await createUser(app);
  for (const payload of [{}, { subject: "" }, { subject: "x".repeat(256) }, { subject: "a\nb" }, { subject: 42 }, { subject: "s", extra: true }]) {
    const res = await app.inject({ method: "PUT", url: `/v1/users/${user.id}/external-identity`, headers: writer, payload });
    t.equal(res.statusCode, 400, JSON.stringify(payload));
  }
  t.equal(await app.database.prisma.externalIdentity.count({ where: { userId: user.id } }), 0);
});

t.test("unlinking ends BankID sign-in for that person; unlinking again is 404", async (t) => {
  const user = await createUser(app);
  const subject = newSubject();
  await link(user.id, subject);
  t.equal((await unlink(user.id)).statusCode, 204);
  t.equal((await signInAs(subject)).statusCode, 401);
  const again = await unlink(user.id);
  t.equal(again.statusCode, 404);
  t.equal(again.json().code, "NOT_FOUND");
  t.equal((await unlink(randomUUID())).statusCode, 404, "an unknown user");
  t.same((await linkEvents(user.id)).map((e) => [e.type, e.details]), [
    ["external_identity_linked", { provider: "bankid", replacedEarlier: false }],
    ["external_identity_unlinked", { provider: "bankid" }],
  ]);
});

t.test("a freed subject can be linked to someone else", async (t) => {
  const [first, second] = [await createUser(app), await createUser(app)];
  const subject = newSubject();
  await link(first.id, subject);
  await unlink(first.id);
  t.equal((await link(second.id, subject)).statusCode, 204);
  t.equal(decodeJwt((await signInAs(subject)).json().accessToken).sub, second.id);
});

t.test("nothing in this file reached the network", async (t) => {
  t.same(network.calls, []);
});

