// Two instances on one database: the approval reaches instance B while the sign-in
// page long-polls instance A. The wake-up (LISTEN/NOTIFY; PGlite's listen when
// embedded) must wake A well before its 2 s safety re-check. On PostgreSQL
// (TEST_DATABASE_URL) each instance opens its own connections, as two processes would.
import t from "tap";
import { buildApp } from "../../src/app.ts";
import { openDatabase, type Database } from "../../src/db/database.ts";
import { freshDatabaseUrl, sharedDatabase, testConfig } from "../helpers/app.ts";
import { personWithPushApp, poll, startPush } from "../helpers/push.ts";

async function instances(): Promise<[Database, Database]> {
  const url = await freshDatabaseUrl(t);
  if (!url) {
    const shared = await sharedDatabase(t);
    return [shared, shared];
  }
  const open = async () => {
    const db = await openDatabase({ databaseUrl: url, dataDir: "memory://", poolSize: 5 });
    t.teardown(() => db.close());
    return db;
  };
  const a = await open();
  await a.migrate();
  return [a, await open()];
}

const [dbA, dbB] = await instances();
const appA = await buildApp({ config: testConfig({ MIGRATE_ON_START: false }), database: dbA });
const appB = await buildApp({ config: testConfig({ MIGRATE_ON_START: false }), database: dbB });
t.teardown(async () => { await appA.close(); await appB.close(); });

t.test("an approval on instance B wakes a long poll on instance A within 1 s, and mints one session", async (t) => {
  const { user, phone } = await personWithPushApp(appB);
  const { mfaToken, res } = await startPush(appA, user.email);
  const { challengeId, numberToMatch } = res.json();
  const waiting = poll(appA, challengeId, mfaToken, 20);
  const alsoWaiting = poll(appB, challengeId, mfaToken, 20);
  await new Promise((resolve) => setTimeout(resolve, 300)); // both long polls are listening
  const [pending] = await phone.pending(0);
  const answeredAt = Date.now();
  await phone.answer(pending!, "approve", { number: numberToMatch });
  const outcome = await waiting;
  const latency = Date.now() - answeredAt;
  const other = await alsoWaiting;
  t.ok(latency < 1000, `woken after ${latency} ms`);
  const statuses = [outcome, other].map((o) => (o.statusCode === 200 ? o.json().status : o.statusCode)).sort();
  t.same(statuses, [401, "authenticated"], "one instance mints the session, the other collector is refused");
});
