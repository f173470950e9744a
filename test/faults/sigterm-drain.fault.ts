// SIGTERM drains (src/server.ts): requests in flight when the signal arrives finish or get a
// clean answer, push long polls answer at once (they would otherwise hold the process for
// up to 25 s), nothing new is accepted, and the process exits 0 within
// SHUTDOWN_GRACE_SECONDS. On the embedded PGlite default, with argon2 at its default cost
// (so sign-ins are really in flight when the signal comes).
import t from "tap";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createApiKeyByCli, sharedKeys, startInstance } from "../helpers/instances.ts";
import { bearer, call, createPerson, personWithPushApp, signIn } from "../helpers/http-flows.ts";

const GRACE_SECONDS = 5;
const dataDir = await mkdtemp(path.join(os.tmpdir(), "drain-"));
t.teardown(() => rm(dataDir, { recursive: true, force: true }));
const env = { DATA_DIR: dataDir, ...(await sharedKeys()), LOGIN_RATE_PER_IP: "1000000", SHUTDOWN_GRACE_SECONDS: String(GRACE_SECONDS) };
// The embedded database admits one process: the CLI makes the key before the service starts.
const apiKey = await createApiKeyByCli(env, ["users:write"]);
const instance = await startInstance({ env });
t.teardown(() => instance.stop("SIGKILL"));
const base = instance.baseUrl;

t.test("SIGTERM: in-flight sign-ins and long polls get clean answers, and the process exits 0 within the grace time", async (t) => {
  const pushPerson = await personWithPushApp(base, apiKey);
  const login = await signIn(base, pushPerson.email);
  t.equal(login.body.status, "mfa_required");
  const mfaToken = login.body.mfaToken as string;
  const started = await call(base, "POST", "/v1/auth/mfa/push", { body: { mfaToken } });
  t.equal(started.status, 200, "push challenge sent");
  const people = await Promise.all(Array.from({ length: 6 }, () => createPerson(base, apiKey)));

  const longPoll = call(base, "GET", `/v1/auth/mfa/push/${started.body.challengeId as string}?waitSeconds=25`, { headers: bearer(mfaToken), timeoutMs: 40_000 });
  const appPoll = pushPerson.phone.pending(0).then(() => pushPerson.phone.pending(25)).then(
    (challenges) => ({ status: 200, challenges: challenges.length }),
    (error: { status?: number }) => ({ status: error.status ?? 0, challenges: 0 }),
  );
  await new Promise((r) => setTimeout(r, 500));
  const signIns = people.map((p) => signIn(base, p.email));
  await new Promise((r) => setTimeout(r, 30));
  const signalled = performance.now();
  process.kill(instance.pid, "SIGTERM");

  const polled = await longPoll;
  const pollMs = performance.now() - signalled;
  t.equal(polled.status, 200, `the push long poll answered ${polled.status}`);
  t.equal(polled.body.status, "pending", "with the challenge still pending (the client polls again elsewhere)");
  t.ok(pollMs < 3_000, `the long poll answered ${Math.round(pollMs)} ms after SIGTERM, not after its 25 s`);
  const app = await appPoll;
  t.ok(app.status === 200 || app.status === 503, `the app's long poll got a clean answer (${app.status})`);

  const answers = await Promise.all(signIns);
  for (const answer of answers) {
    const clean = answer.status === 200 || (answer.status === 503 && /problem\+json/.test(answer.headers.get("content-type") ?? ""));
    t.ok(clean, `an in-flight sign-in answered ${answer.status} ${answer.status === 200 ? answer.body.status : answer.body.code}`);
  }
  t.ok(answers.some((a) => a.status === 200), "sign-ins already running finished with a session");

  const late = await call(base, "GET", "/health/live", { timeoutMs: 2_000 });
  t.ok(late.status === 0 || late.status === 503, `a request after the signal is refused (${late.status || "connection refused"})`);

  const exit = await instance.exited;
  const exitMs = performance.now() - signalled;
  t.same(exit, { code: 0, signal: null }, "exit code 0 (drained, not cut off)");
  t.ok(exitMs < GRACE_SECONDS * 1000, `exited ${Math.round(exitMs)} ms after SIGTERM (grace ${GRACE_SECONDS} s)`);
});
