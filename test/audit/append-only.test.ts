// LA-05 (ASVS 16.4.3): the audit table is append-only for the application's own
// database connection, on PostgreSQL and on the embedded PGlite alike.
import t from "tap";
import type { App } from "../../src/http/app-type.ts";
import { createUser, login, startApp } from "../helpers/app.ts";

const app: App = await startApp(t);
const prisma = app.database.prisma;

t.test("LA-05: the app's database role can append audit rows but cannot change, delete or truncate them", async (t) => {
  const user = await createUser(app);
  t.equal((await login(app, user.email)).statusCode, 200, "a sign-in appends its audit row");
  const before = await prisma.auditEvent.findMany({ where: { subjectUserId: user.id }, orderBy: { occurredAt: "asc" } });
  t.ok(before.length > 0, "rows were written");

  const attempts: Array<[string, () => Promise<unknown>]> = [
    ["UPDATE", () => prisma.$executeRaw`UPDATE audit_events SET type = 'forged' WHERE subject_user_id = ${user.id}::uuid`],
    ["DELETE", () => prisma.$executeRaw`DELETE FROM audit_events WHERE subject_user_id = ${user.id}::uuid`],
    ["TRUNCATE", () => prisma.$executeRawUnsafe("TRUNCATE audit_events")],
    ["client updateMany", () => prisma.auditEvent.updateMany({ where: { subjectUserId: user.id }, data: { clientAddress: "203.0.113.9" } })],
    ["client deleteMany", () => prisma.auditEvent.deleteMany({})],
  ];
  for (const [what, attempt] of attempts) {
    const error = await attempt().then(() => null, (e: unknown) => e);
    t.ok(error, `${what} is refused`);
    t.match(String((error as Error | null)?.message), /append-only/, `${what}: the trigger says why`);
  }

  const after = await prisma.auditEvent.findMany({ where: { subjectUserId: user.id }, orderBy: { occurredAt: "asc" } });
  t.same(after, before, "every row is as it was");
  t.equal((await login(app, user.email)).statusCode, 200);
  t.ok((await prisma.auditEvent.count({ where: { subjectUserId: user.id } })) > before.length, "appending still works");
});
