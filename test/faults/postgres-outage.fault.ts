// PostgreSQL stops under load, on a cluster of the test's own (never the shared one):
// every answer meanwhile is a 503 problem+json with Retry-After (never a 500, a stack, or a
// hang past the request timeout), readiness says 503 and liveness 200; when the database
// returns, the same process (no restart) recovers by itself, and no committed sign-in or
// session is lost. Checklist AV-04/AV-05.
import t from "tap";
import pg from "pg";
import { startThrowawayPostgres } from "../helpers/throwaway-postgres.ts";
import { createApiKeyByCli, sharedKeys, startInstance } from "../helpers/instances.ts";
import { bearer, call, claimsOf, createPerson, refresh, session, signIn, type Answer } from "../helpers/http-flows.ts";
import { sha256 } from "../../src/lib/identifiers.ts";

// Fastify's requestTimeout in src/app.ts: no answer may take longer.
const REQUEST_TIMEOUT_MS = 15_000;

const database = await startThrowawayPostgres();
t.teardown(() => database.teardown());
const env = {
  DATABASE_URL: database.url, ...(await sharedKeys()),
  LOGIN_RATE_PER_IP: "1000000", ARGON2_MEMORY_KIB: "19456", ARGON2_TIME_COST: "1", DATABASE_POOL_SIZE: "4",
};
const instance = await startInstance({ env });
t.teardown(() => instance.stop("SIGKILL"));
const apiKey = await createApiKeyByCli(env, ["users:write"]);
const base = instance.baseUrl;

const people = await Promise.all(Array.from({ length: 6 }, () => createPerson(base, apiKey)));
const sessions = await Promise.all(people.map((p) => session(base, p.email)));

/** Sign-ins the service answered 200 to: each must still be a session after the outage. */
const committedSessionIds = new Set<string>();
interface Seen { phase: string; what: string; answer: Answer }
const seen: Seen[] = [];
let phase = "before";
let running = true;

/** One client: signs in, reads /v1/me and refreshes its chain in turn, as fast as answers come. */
async function client(index: number) {
  const person = people[index]!;
  let tokens = sessions[index]!;
  while (running) {
    const login = await signIn(base, person.email);
    seen.push({ phase, what: "login", answer: login });
    if (login.status === 200) committedSessionIds.add(claimsOf(login.body.accessToken as string).sid as string);
    const me = await call(base, "GET", "/v1/me", { headers: bearer(tokens.accessToken), timeoutMs: REQUEST_TIMEOUT_MS + 5_000 });
    seen.push({ phase, what: "me", answer: me });
    const next = await refresh(base, tokens.refreshToken);
    seen.push({ phase, what: "refresh", answer: next });
    if (next.status === 200) tokens = { accessToken: next.body.accessToken as string, refreshToken: next.body.refreshToken as string };
    sessions[index] = tokens;
  }
}

const load = Promise.all(people.map((_, i) => client(i)));
await new Promise((r) => setTimeout(r, 1_500));

t.test("while PostgreSQL is down: 503 problem+json with Retry-After, never a 500 or a hang; ready 503, live 200", async (t) => {
  await database.stop("fast");
  phase = "down";
  await new Promise((r) => setTimeout(r, 4_000));
  const ready = await call(base, "GET", "/health/ready");
  const live = await call(base, "GET", "/health/live");
  t.equal(ready.status, 503, "/health/ready answers 503");
  t.equal(ready.body.code, "UNAVAILABLE");
  t.equal(live.status, 200, "/health/live answers 200");
  const during = seen.filter((s) => s.phase === "down");
  t.ok(during.length >= 20, `${during.length} requests during the outage`);
  const bad = during.filter(({ answer }) => answer.status !== 503 && answer.status !== 200);
  t.same(bad.map((b) => `${b.what} ${b.answer.status} ${JSON.stringify(b.answer.body).slice(0, 200)}`), [], "every answer is a 503 (or a success served without the database)");
  const unavailable = during.filter(({ answer }) => answer.status === 503);
  t.ok(unavailable.length > 0, `${unavailable.length} answered 503`);
  for (const { answer } of unavailable) {
    if (!/^application\/problem\+json/.test(answer.headers.get("content-type") ?? "") || !answer.headers.get("retry-after") || answer.body.code !== "UNAVAILABLE") {
      t.fail(`a 503 without problem+json, Retry-After and UNAVAILABLE: ${JSON.stringify(answer.body)}`);
      break;
    }
  }
  t.notOk(during.some(({ answer }) => JSON.stringify(answer.body).includes("    at ")), "no stack trace in any answer");
  t.ok(during.every(({ answer }) => answer.ms < REQUEST_TIMEOUT_MS), `slowest answer ${Math.round(Math.max(...during.map((d) => d.answer.ms)))} ms (< ${REQUEST_TIMEOUT_MS})`);
});

t.test("when PostgreSQL returns, the same process recovers by itself and no committed sign-in or session is lost", async (t) => {
  await database.start();
  phase = "after";
  const deadline = Date.now() + 30_000;
  let ready = 0;
  while (Date.now() < deadline && ready !== 200) {
    ready = (await call(base, "GET", "/health/ready")).status;
    if (ready !== 200) await new Promise((r) => setTimeout(r, 250));
  }
  t.equal(ready, 200, "ready again without a restart");
  await new Promise((r) => setTimeout(r, 1_500));
  running = false;
  await load;
  t.doesNotThrow(() => process.kill(instance.pid, 0), "the same process (never restarted) is still running");
  const after = seen.filter((s) => s.phase === "after" && s.what === "login");
  t.ok(after.length > 0, `${after.length} sign-ins after recovery`);
  t.same(after.filter((s) => s.answer.status !== 200).map((s) => `${s.answer.status} ${JSON.stringify(s.answer.body).slice(0, 200)}`), [], "all answered 200");

  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  t.teardown(() => client.end());
  const ids = [...committedSessionIds];
  const { rows } = await client.query<{ id: string }>("SELECT id FROM sessions WHERE id = ANY($1::uuid[])", [ids]);
  t.equal(rows.length, ids.length, `every one of the ${ids.length} sign-ins answered 200 is a stored session`);
  // Each client's latest pair (from its last 200 refresh, or its unspent token) still works.
  for (const tokens of sessions) {
    const me = await call(base, "GET", "/v1/me", { headers: bearer(tokens.accessToken) });
    t.equal(me.status, 200, "the session from before the outage still authenticates");
    t.equal((await refresh(base, tokens.refreshToken)).status, 200, "its refresh token still rotates");
  }
});

t.test("a statement the shutdown cuts off (57P01 admin_shutdown) answers 503, not 500", async (t) => {
  // Another connection holds the refresh token's row, so the refresh's UPDATE is waiting on
  // the server when pg_ctl stops it: the server ends that statement with 57P01.
  const person = await createPerson(base, apiKey);
  const { refreshToken } = await session(base, person.email);
  const holder = new pg.Client({ connectionString: database.url });
  holder.on("error", () => {}); // the shutdown ends this connection too
  await holder.connect();
  await holder.query("BEGIN");
  await holder.query("SELECT id FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE", [sha256(refreshToken)]);
  const waiting = refresh(base, refreshToken);
  await new Promise((r) => setTimeout(r, 700));
  await database.stop("fast");
  const answer = await waiting;
  t.equal(answer.status, 503, `the waiting refresh answered ${answer.status} ${JSON.stringify(answer.body).slice(0, 120)}`);
  t.equal(answer.body.code, "UNAVAILABLE");
  t.ok(answer.headers.get("retry-after"), "with Retry-After");
  await holder.end().catch(() => {});
  await database.start();
  let ready = 0;
  for (let i = 0; i < 120 && ready !== 200; i++) {
    ready = (await call(base, "GET", "/health/ready")).status;
    if (ready !== 200) await new Promise((r) => setTimeout(r, 250));
  }
  t.equal(ready, 200, "ready again");
  t.equal((await refresh(base, refreshToken)).status, 200, "the refresh cut off was rolled back: the token still rotates");
});
