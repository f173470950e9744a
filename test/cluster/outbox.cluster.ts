// The outbox across real service processes (test/helpers/instances.ts) on one
// PostgreSQL (a fresh database of TEST_DATABASE_URL, or a throwaway cluster):
// an instance killed with SIGKILL while deliveries are pending loses none of
// them (a fresh instance delivers every one), and two instances deliver each
// event once when the receiver answers 200.
import t, { type Test } from "tap";
import pg from "pg";
import { freshDatabaseUrl } from "../helpers/app.ts";
import { call, createPerson } from "../helpers/http-flows.ts";
import { createApiKeyByCli, sharedKeys, startInstance, type Instance } from "../helpers/instances.ts";
import { startThrowawayPostgres } from "../helpers/throwaway-postgres.ts";
import { startReceiver } from "../helpers/webhook-receiver.ts";

const SECRET = `whsec_${Buffer.alloc(32, 5).toString("base64")}`;

async function databaseUrl(t: Test): Promise<string> {
  const shared = await freshDatabaseUrl(t);
  if (shared) return shared;
  const cluster = await startThrowawayPostgres();
  t.teardown(() => cluster.teardown());
  return cluster.url;
}

async function outboxIds(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ id: string }>("SELECT id FROM outbox_messages WHERE state = 'pending' ORDER BY id")).rows.map((r) => r.id);
  } finally {
    await client.end();
  }
}

async function until(what: string, check: () => Promise<boolean> | boolean, limitMs: number) {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function start(t: Test, env: Record<string, string>): Promise<Instance> {
  const instance = await startInstance({ env });
  t.teardown(() => instance.stop("SIGKILL"));
  return instance;
}

/** Unlocking a person's password is a notified event (password_unlocked) that costs no password hash. */
async function notifyThrough(instance: Instance, apiKey: string, userId: string) {
  const res = await call(instance.baseUrl, "POST", `/v1/users/${userId}/unlock`, { headers: { "x-api-key": apiKey } });
  if (res.status !== 204) throw new Error(`unlock: ${res.status} ${JSON.stringify(res.body)}`);
}

t.test("SIGKILL with deliveries pending: a fresh instance delivers every one of them", async (t) => {
  const url = await databaseUrl(t);
  let up = false;
  const receiver = await startReceiver(t, () => ({ status: up ? 200 : 503 }));
  const env = {
    DATABASE_URL: url, ...(await sharedKeys()), WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: SECRET,
    WEBHOOK_RETRY_BASE_MS: "200", WEBHOOK_RETRY_MAX_MS: "1000", WEBHOOK_MAX_ATTEMPTS: "30", WEBHOOK_POLL_INTERVAL_MS: "100", WEBHOOK_TIMEOUT_MS: "500",
  };
  const first = await start(t, env);
  const apiKey = await createApiKeyByCli(env, ["users:write"]);
  const people = await Promise.all(Array.from({ length: 8 }, () => createPerson(first.baseUrl, apiKey)));
  for (const p of people) await notifyThrough(first, apiKey, p.id);
  await until("every event tried at least once, none delivered", () => receiver.deliveries.length >= 8, 20_000);
  const pending = await outboxIds(url);
  t.equal(pending.length, 8, "eight deliveries pending when the instance dies");

  const killed = await first.stop("SIGKILL");
  t.equal(killed.signal, "SIGKILL");
  up = true;
  const tried = receiver.deliveries.length;
  await start(t, env);
  // A row leased by the killed worker at that instant is due again when its lease (timeout + 30 s) ends.
  await until("every pending event delivered by the fresh instance", async () => (await outboxIds(url)).length === 0, 60_000);
  const delivered = new Set(receiver.deliveries.slice(tried).map((d) => d.webhookId));
  t.same([...delivered].sort(), pending, "each pending event arrived, under its own webhook-id");
});

t.test("two instances on one database: each event is delivered exactly once when the receiver answers 200", async (t) => {
  const url = await databaseUrl(t);
  const receiver = await startReceiver(t, () => ({ status: 200 }));
  const env = { DATABASE_URL: url, ...(await sharedKeys()), WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: SECRET, WEBHOOK_POLL_INTERVAL_MS: "50" };
  const a = await start(t, env);
  const b = await start(t, { ...env, MIGRATE_ON_START: "false" });
  const apiKey = await createApiKeyByCli(env, ["users:write"]);
  const people = await Promise.all(Array.from({ length: 20 }, () => createPerson(a.baseUrl, apiKey)));
  await Promise.all(people.map((p, i) => notifyThrough(i % 2 === 0 ? a : b, apiKey, p.id)));
  await until("twenty deliveries", () => receiver.deliveries.length >= 20, 30_000);
  await new Promise((resolve) => setTimeout(resolve, 1_500)); // room for a duplicate to show up
  const ids = receiver.deliveries.map((d) => d.webhookId);
  t.equal(ids.length, 20, "twenty requests, no duplicate");
  t.equal(new Set(ids).size, 20, "twenty distinct events");
  t.same(new Set(receiver.deliveries.map((d) => d.payload.userId)), new Set(people.map((p) => p.id)), "one for each person");
  t.same(await outboxIds(url), [], "nothing left in the outbox");
});
