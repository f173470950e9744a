// Crash consistency: SIGKILL (no drain, no cleanup) in the middle of a load of password
// sign-ins, refresh rotations and second steps (TOTP, then recovery codes, each answered
// with its replacement), then a fresh process on the same database, then SQL over what the
// killed one left: every refresh family has at most one live token, no challenge is consumed
// without its counted attempt and every challenge whose second step answered 200 is
// consumed, no session without its user and no refresh token without its session, and
// every sign-in answered 200 before the kill is a stored session.
import t from "tap";
import pg from "pg";
import { startThrowawayPostgres } from "../helpers/throwaway-postgres.ts";
import { createApiKeyByCli, sharedKeys, startInstance } from "../helpers/instances.ts";
import { claimsOf, createPerson, mfaTokenOf, personWithTotp, refresh, session, signIn, verifySecondStep } from "../helpers/http-flows.ts";
import { totpAt } from "../helpers/mfa.ts";
import { sha256 } from "../../src/lib/identifiers.ts";

const database = await startThrowawayPostgres();
t.teardown(() => database.teardown());
const env = { DATABASE_URL: database.url, ...(await sharedKeys()), LOGIN_RATE_PER_IP: "1000000", ARGON2_MEMORY_KIB: "19456", ARGON2_TIME_COST: "1" };
const first = await startInstance({ env });
t.teardown(() => first.stop("SIGKILL"));
const apiKey = await createApiKeyByCli(env, ["users:write"]);
const base = first.baseUrl;

const plain = await Promise.all(Array.from({ length: 4 }, () => createPerson(base, apiKey)));
const chains = await Promise.all(plain.map((p) => session(base, p.email)));
const twoStep = await Promise.all(Array.from({ length: 4 }, () => personWithTotp(base, apiKey)));

const answeredSessionIds = new Set<string>();
const answeredChallengeHashes = new Set<string>();
let requests = 0;
let running = true;

function noteSession(body: Record<string, unknown>) {
  if (typeof body.accessToken === "string") answeredSessionIds.add(claimsOf(body.accessToken).sid as string);
}

async function signInLoop(index: number) {
  while (running) {
    const res = await signIn(base, plain[index]!.email);
    requests++;
    if (res.status === 200) noteSession(res.body);
  }
}

async function refreshLoop(index: number) {
  while (running) {
    const res = await refresh(base, chains[index]!.refreshToken);
    requests++;
    if (res.status === 200) chains[index] = { accessToken: res.body.accessToken as string, refreshToken: res.body.refreshToken as string };
  }
}

/** A TOTP second step first (each time step is accepted once), then recovery codes, each answer carrying the next. */
async function secondStepLoop(index: number) {
  const person = twoStep[index]!;
  let recoveryCode = person.recoveryCode;
  let usedTotp = false;
  while (running) {
    const mfaToken = await mfaTokenOf(base, person.email).catch(() => null);
    requests++;
    if (!mfaToken) continue;
    const res = usedTotp
      ? await verifySecondStep(base, mfaToken, "recovery_code", recoveryCode)
      : await verifySecondStep(base, mfaToken, "totp", totpAt(person.secret, new Date()));
    requests++;
    usedTotp = true;
    if (res.status === 200) {
      answeredChallengeHashes.add(sha256(mfaToken));
      noteSession(res.body);
      const next = (res.body.recoveryCodes as string[] | undefined)?.[0];
      if (next) recoveryCode = next;
    }
  }
}

t.test("SIGKILL under load leaves no half-written state", async (t) => {
  const load = Promise.all([
    ...plain.map((_, i) => signInLoop(i)),
    ...plain.map((_, i) => refreshLoop(i)),
    ...twoStep.map((_, i) => secondStepLoop(i)),
  ]);
  await new Promise((r) => setTimeout(r, 4_000));
  const killed = first.stop("SIGKILL");
  running = false;
  t.same(await killed, { code: null, signal: "SIGKILL" }, "killed mid-load");
  await load;
  t.ok(requests > 50, `${requests} requests sent before and while the process died`);
  t.ok(answeredChallengeHashes.size > 0, `${answeredChallengeHashes.size} second steps answered 200`);

  const second = await startInstance({ env });
  t.teardown(() => second.stop("SIGKILL"));
  t.pass("a fresh process starts on what the killed one left");

  const sql = new pg.Client({ connectionString: database.url });
  await sql.connect();
  t.teardown(() => sql.end());
  const rows = async (text: string, values: unknown[] = []) => (await sql.query(text, values)).rows;

  t.same(await rows("SELECT session_id, count(*)::int AS live FROM refresh_tokens WHERE spent_at IS NULL GROUP BY session_id HAVING count(*) > 1"), [],
    "every refresh family has at most one live token");
  t.same(await rows("SELECT id FROM auth_challenges WHERE consumed_at IS NOT NULL AND attempts = 0"), [],
    "no challenge is consumed without the attempt that consumed it");
  const consumed = await rows("SELECT token_hash FROM auth_challenges WHERE token_hash = ANY($1) AND consumed_at IS NOT NULL", [[...answeredChallengeHashes]]);
  t.equal(consumed.length, answeredChallengeHashes.size, "every challenge whose second step answered 200 is consumed (it cannot be used again)");
  t.same(await rows("SELECT s.id FROM sessions s LEFT JOIN users u ON u.id = s.user_id WHERE u.id IS NULL"), [], "no session without its user");
  t.same(await rows("SELECT r.id FROM refresh_tokens r LEFT JOIN sessions s ON s.id = r.session_id WHERE s.id IS NULL"), [], "no refresh token without its session");
  const stored = await rows("SELECT id FROM sessions WHERE id = ANY($1::uuid[])", [[...answeredSessionIds]]);
  t.equal(stored.length, answeredSessionIds.size, `every one of the ${answeredSessionIds.size} sessions answered 200 is stored`);
  t.same(await rows("SELECT s.id FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.session_id = s.id)"), [],
    "every session has its refresh token (a session and its first token are written together)");
});
