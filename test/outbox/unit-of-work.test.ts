// One unit of work: a state change, its audit rows and its outbox rows commit
// together or not at all. End to end through buildApp on a real database, and
// the pieces of the composition (request context, audit log, transactionOf) on
// a small Fastify app, where a transaction can be made to fail on purpose.
import { randomUUID } from "node:crypto";
import Fastify from "fastify";
import t, { type Test } from "tap";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createAuditRepository, type OutboxRow } from "../../src/audit/repository.ts";
import { Prisma } from "../../src/generated/prisma/client.ts";
import { createRequestContext } from "../../src/audit/request-context.ts";
import { createAuditLog } from "../../src/audit/service.ts";
import { openDatabase, transactionOf } from "../../src/db/database.ts";
import type { App } from "../../src/http/app-type.ts";
import { manualClock } from "../helpers/clock.ts";
import { bearer, freshDatabaseUrl, sharedDatabase, startApp, TEST_PASSWORD } from "../helpers/app.ts";
import { enrolledUser, totpAt } from "../helpers/mfa.ts";

const clock = manualClock(new Date("2026-11-28T10:00:05Z"));

/** A receiver address nothing listens on, with a retry far away: rows stay in the outbox to be looked at. */
async function unreachable() {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return { WEBHOOK_URL: `http://127.0.0.1:${port}/hook`, WEBHOOK_SECRET: "u".repeat(40), WEBHOOK_RETRY_BASE_MS: 3_600_000 };
}

const turnOff = (app: App, user: { accessToken: string; secret: string }) =>
  app.inject({ method: "DELETE", url: "/v1/me/mfa/totp", headers: bearer(user.accessToken), payload: { password: TEST_PASSWORD, code: totpAt(user.secret, clock.now()) } });

t.test("a rolled-back change writes no audit row and no outbox row, and the change itself is not stored", async (t) => {
  const app = await startApp(t, { clock, config: await unreachable() });
  const user = await enrolledUser(app, clock.now);
  // The database refuses this event's outbox row: the unit of work that turns 2SV off must fail whole.
  await app.database.prisma.$executeRawUnsafe(`
    CREATE FUNCTION refuse_mfa_disabled() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.type = 'mfa_disabled' THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$`);
  await app.database.prisma.$executeRawUnsafe(`CREATE TRIGGER refuse_mfa_disabled BEFORE INSERT ON outbox_messages FOR EACH ROW EXECUTE FUNCTION refuse_mfa_disabled()`);
  clock.advance(30_000);
  const res = await turnOff(app, user);
  t.equal(res.statusCode, 500, "the request fails");
  t.match(res.headers["content-type"], /^application\/problem\+json/, "as problem+json");
  const { prisma } = app.database;
  t.equal(await prisma.totpFactor.count({ where: { userId: user.id, status: "active" } }), 1, "the factor is still active: the change rolled back");
  t.equal(await prisma.auditEvent.count({ where: { subjectUserId: user.id, type: "mfa_disabled" } }), 0, "no audit row for it");
  t.equal(await prisma.outboxMessage.count({ where: { type: "mfa_disabled" } }), 0, "no outbox row for it");

  await prisma.$executeRawUnsafe(`DROP TRIGGER refuse_mfa_disabled ON outbox_messages`);
  clock.advance(30_000);
  const again = await turnOff(app, user);
  t.equal(again.statusCode, 204, "without the refusal the same change goes through");
  t.equal(await prisma.totpFactor.count({ where: { userId: user.id, status: "active" } }), 0);
  t.equal(await prisma.auditEvent.count({ where: { subjectUserId: user.id, type: "mfa_disabled" } }), 1, "with its audit row");
  t.equal(await prisma.outboxMessage.count({ where: { type: "mfa_disabled" } }), 1, "and its outbox row");
});

t.test("a committed change has its audit and outbox rows written inside its own transaction, before COMMIT", async (t) => {
  const statements: string[] = [];
  const database = await openDatabase({ databaseUrl: await freshDatabaseUrl(t), dataDir: "memory://", poolSize: 4, onStatement: (sql) => statements.push(sql) });
  t.teardown(() => database.close());
  await database.migrate();
  const app = await startApp(t, { clock, database, config: await unreachable() });
  const user = await enrolledUser(app, clock.now);
  clock.advance(30_000);
  statements.length = 0;
  t.equal((await turnOff(app, user)).statusCode, 204);
  const begin = statements.findIndex((s, i) => s === "BEGIN" && statements.slice(i).some((x) => /DELETE FROM "public"."totp_factors"|totp_factors/.test(x)));
  const commit = statements.indexOf("COMMIT", begin);
  const inside = statements.slice(begin, commit);
  t.ok(begin >= 0 && commit > begin, "the change ran in a transaction");
  t.ok(inside.some((s) => /totp_factors/.test(s)), "the factor's removal is inside it");
  t.ok(inside.some((s) => /INSERT INTO outbox_messages/.test(s) && /INSERT INTO audit_events/.test(s)), "its audit and outbox rows are one statement inside it, before COMMIT");
  const row = await database.prisma.outboxMessage.findFirst({ where: { type: "mfa_disabled" } });
  t.ok(row, "the committed change has its outbox row");
  t.equal(JSON.parse(row!.body).userId, user.id);
  const audit = await database.prisma.auditEvent.findFirst({ where: { type: "mfa_disabled", subjectUserId: user.id } });
  t.ok(audit, "and its audit row");
});

/** The production pieces of the event path on a small app whose routes can make a unit of work fail. */
async function composition(t: Test) {
  const db = await sharedDatabase(t);
  const app = Fastify();
  t.teardown(() => app.close());
  const context = createRequestContext(app as never);
  const audit = createAuditLog({
    events: createAuditRepository(db.prisma), eventsOn: createAuditRepository, context, clock, membersSince: async () => [],
  });
  app.addHook("onSend", async () => audit.flush());
  const transaction = transactionOf(db.prisma, (tx) => ({ audit: createAuditRepository(tx) }), audit.unitOfWork);
  const outbox = (type: string): OutboxRow => ({ id: randomUUID(), type, body: JSON.stringify({ type }) });
  const record = (type: string) => audit.record({ type }, outbox(type));
  const types = async () => ({
    audit: (await db.prisma.auditEvent.findMany({ orderBy: { occurredAt: "asc" } })).map((e) => e.type).sort(),
    outbox: (await db.prisma.outboxMessage.findMany()).map((e) => e.type).sort(),
  });
  return { db, app, audit, transaction, record, types };
}

t.test("events recorded inside a transaction that rolls back are discarded; those of the request around it are kept", async (t) => {
  const { app, transaction, record, types } = await composition(t);
  app.post("/work", async () => {
    await record("before_the_work");
    await transaction(async () => {
      await record("inside_the_work");
      throw new Error("the unit of work fails");
    }).catch(() => {});
    await record("after_the_work");
    return { done: true };
  });
  await app.ready();
  t.equal((await app.inject({ method: "POST", url: "/work" })).statusCode, 200);
  t.same(await types(), {
    audit: ["after_the_work", "before_the_work"],
    outbox: ["after_the_work", "before_the_work"],
  }, "nothing of the rolled-back work, everything else");
});

t.test("a committed unit of work writes its own events and the request's pending ones, once", async (t) => {
  const { app, transaction, record, types } = await composition(t);
  app.post("/work", async () => {
    await record("before_the_work");
    await transaction(async () => { await record("inside_the_work"); });
    return { done: true };
  });
  await app.ready();
  t.equal((await app.inject({ method: "POST", url: "/work" })).statusCode, 200);
  t.same(await types(), {
    audit: ["before_the_work", "inside_the_work"],
    outbox: ["before_the_work", "inside_the_work"],
  }, "each row once: the flush at the response does not write them again");
});

t.test("outside a request a unit of work still commits its events with it, and drops them with a rollback", async (t) => {
  const { transaction, record, types } = await composition(t);
  await transaction(async () => { await record("system_work"); });
  await transaction(async () => { await record("system_work_rolled_back"); throw new Error("no"); }).catch(() => {});
  t.same(await types(), { audit: ["system_work"], outbox: ["system_work"] });
});

t.test("takePendingWrites: a hot path takes the request's pending audit and outbox rows into its own statement; restore hands them back", async (t) => {
  const { db, app, audit, record, types } = await composition(t);
  app.post("/fails", async () => {
    await record("kept_for_the_response");
    const taken = audit.takePendingWrites();
    await taken.restore(); // the hot path's statement failed
    return {};
  });
  app.post("/writes", async () => {
    await record("taken_by_the_statement");
    const taken = audit.takePendingWrites();
    const bodies = taken.statements(Prisma.sql`TRUE`).map((statement, i) => Prisma.sql`${Prisma.raw(`w${i}`)} AS (${statement})`);
    await db.prisma.$executeRaw`WITH ${Prisma.join(bodies, ", ")} SELECT 1`;
    return { statements: bodies.length };
  });
  await app.ready();
  await app.inject({ method: "POST", url: "/fails" });
  t.same(await types(), { audit: ["kept_for_the_response"], outbox: ["kept_for_the_response"] }, "a failed statement loses nothing");
  const res = await app.inject({ method: "POST", url: "/writes" });
  t.same(res.json(), { statements: 2 }, "one CTE body for the audit rows, one for the outbox rows");
  t.same(await types(), {
    audit: ["kept_for_the_response", "taken_by_the_statement"],
    outbox: ["kept_for_the_response", "taken_by_the_statement"],
  }, "written once, by the path's statement, not again at the response");
});

t.test("what is pending when the response leaves is written in one statement, audit and outbox together", async (t) => {
  const statements: string[] = [];
  const db = await openDatabase({ databaseUrl: await freshDatabaseUrl(t), dataDir: "memory://", poolSize: 2, onStatement: (sql) => statements.push(sql) });
  t.teardown(() => db.close());
  await db.migrate();
  const app = Fastify();
  t.teardown(() => app.close());
  const context = createRequestContext(app as never);
  const audit = createAuditLog({ events: createAuditRepository(db.prisma), eventsOn: createAuditRepository, context, clock, membersSince: async () => [] });
  app.addHook("onSend", async () => audit.flush());
  app.post("/three", async () => {
    for (const type of ["a", "b", "c"]) await audit.record({ type }, { id: randomUUID(), type, body: "{}" });
    t.equal(await db.prisma.auditEvent.count(), 0, "nothing written while the handler runs");
    statements.length = 0;
    return {};
  });
  await app.ready();
  await app.inject({ method: "POST", url: "/three" });
  t.equal(statements.length, 1, "one statement");
  t.match(statements[0], /INSERT INTO audit_events[\s\S]*INSERT INTO outbox_messages/);
  t.equal(await db.prisma.auditEvent.count(), 3);
  t.equal(await db.prisma.outboxMessage.count(), 3);
});
