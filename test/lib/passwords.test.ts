import t from "tap";
import { randomBytes } from "node:crypto";
import { hash as argon2Hash } from "@node-rs/argon2";
import { HasherAbandonedError, HasherBusyError, OWASP_MINIMUM, createPasswordHasher } from "../../src/lib/passwords.ts";
import { checkPasswordPolicy, commonPasswordCount } from "../../src/lib/password-policy.ts";

const hasher = createPasswordHasher(OWASP_MINIMUM);
const PHC = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;
const policy = { minLength: 15, maxLength: 1024 };

t.test("hashes are argon2id PHC strings with the configured parameters and a 16-byte salt", async (t) => {
  const stored = await hasher.hash("correct horse battery staple");
  const match = PHC.exec(stored);
  t.ok(match, stored);
  t.same(match?.slice(1, 4), ["19456", "2", "1"]);
  t.equal(Buffer.from(match?.[4] ?? "", "base64").length, 16);
});

t.test("the same password hashes differently for two users", async (t) => {
  const [a, b] = await Promise.all([hasher.hash("same password for both"), hasher.hash("same password for both")]);
  t.not(a, b);
  t.ok(await hasher.verify(a, "same password for both"));
  t.ok(await hasher.verify(b, "same password for both"));
});

t.test("a password is compared whole: a 72-char prefix, flipped case or a trailing space fail", async (t) => {
  const password = "Tr0ub4dor&3-".repeat(7).slice(0, 80);
  const stored = await hasher.hash(password);
  t.ok(await hasher.verify(stored, password), "the exact password verifies");
  t.notOk(await hasher.verify(stored, password.slice(0, 72)), "72-char prefix (bcrypt's limit)");
  t.notOk(await hasher.verify(stored, flipCase(password)), "flipped case");
  t.notOk(await hasher.verify(stored, `${password} `), "trailing space");
  t.notOk(await hasher.verify(stored, ` ${password}`), "leading space");
});

t.test("NFC and NFD forms of one password verify the same", async (t) => {
  const composed = "mot de passe café crème";
  const decomposed = composed.normalize("NFD");
  t.not(composed, decomposed);
  t.ok(await hasher.verify(await hasher.hash(composed), decomposed));
  t.ok(await hasher.verify(await hasher.hash(decomposed), composed));
});

t.test("needsRehash is true after parameters rise", async (t) => {
  const stored = await hasher.hash("a password hashed last year");
  t.notOk(hasher.needsRehash(stored), "current parameters");
  t.ok(createPasswordHasher({ ...OWASP_MINIMUM, memoryCost: 65536 }).needsRehash(stored), "memory raised");
  t.ok(createPasswordHasher({ ...OWASP_MINIMUM, timeCost: 3 }).needsRehash(stored), "iterations raised");
  t.ok(createPasswordHasher({ ...OWASP_MINIMUM, parallelism: 2 }).needsRehash(stored), "parallelism raised");
  t.ok(hasher.needsRehash(await argon2Hash("x", { ...OWASP_MINIMUM, algorithm: 1 })), "argon2i is replaced");
  t.ok(hasher.needsRehash("not a hash"), "garbage is replaced");
});

t.test("needsRehash never downgrades a stronger hash", async (t) => {
  const stronger = await createPasswordHasher({ ...OWASP_MINIMUM, timeCost: 3 }).hash("strong already");
  t.notOk(hasher.needsRehash(stronger));
});

t.test("verify never throws on a malformed hash", async (t) => {
  const stored = await hasher.hash("some password here");
  const malformed = [
    "",
    "garbage",
    "$argon2id$",
    "$argon2id$v=19$m=19456,t=2,p=1$$",
    stored.slice(0, -10),
    `${stored}xyz!`,
    stored.replace("argon2id", "argon2x"),
    "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
  ];
  for (const bad of malformed) t.equal(await hasher.verify(bad, "some password here"), false, JSON.stringify(bad));
});

t.test("an unknown user costs about one verify: verifyDummy takes as long as a wrong password", async (t) => {
  const stored = await hasher.hash("the real password");
  await hasher.verifyDummy("warm-up computes the dummy hash once");
  const wrong = await medianMs(() => hasher.verify(stored, "a wrong password"));
  const dummy = await medianMs(() => hasher.verifyDummy("a wrong password"));
  t.ok(dummy > wrong / 3 && dummy < wrong * 3, `dummy ${dummy.toFixed(1)} ms vs wrong ${wrong.toFixed(1)} ms`);
});

t.test("a busy hasher refuses beyond its queue", async (t) => {
  const small = createPasswordHasher(OWASP_MINIMUM, { maxConcurrent: 1, maxQueue: 2 });
  const accepted = [small.hash("one running"), small.hash("two waiting"), small.hash("three waiting")];
  const refused = small.hash("four refused");
  await t.rejects(refused, HasherBusyError);
  await t.rejects(small.verify("x", "also refused"), { code: "HASHER_BUSY" });
  t.equal((await Promise.all(accepted)).length, 3, "the queued work still completes");
  t.ok(await small.verify(await accepted[0]!, "one running"), "the hasher accepts work again once drained");
});

t.test("the hashing queue as documented: within it every caller is served, beyond it exactly the excess is refused, at once", async (t) => {
  const depth = 4;
  const small = createPasswordHasher(OWASP_MINIMUM, { maxConcurrent: 1, maxQueue: depth });
  const stored = await small.hash("the password");
  // Admission is decided when the work is handed over, not by timing: one running + depth waiting.
  const within = Array.from({ length: 1 + depth }, () => small.verify(stored, "the password"));
  t.same(await Promise.all(within), Array(1 + depth).fill(true), `1 running + ${depth} waiting: all served`);

  const events: string[] = [];
  const excess = 3;
  const burst = Array.from({ length: 1 + depth + excess }, (_, i) => small.verify(stored, "the password").then(
    () => { events.push(`served ${i}`); return "served"; },
    (error: unknown) => { events.push(`refused ${i}`); return error instanceof HasherBusyError ? "busy" : "other"; },
  ));
  const outcomes = await Promise.all(burst);
  t.equal(outcomes.filter((o) => o === "served").length, 1 + depth, "the queue's worth is served");
  t.same(outcomes.slice(1 + depth), Array(excess).fill("busy"), `the ${excess} beyond it are refused as busy`);
  t.same(events.slice(0, excess).map((e) => e.split(" ")[0]), Array(excess).fill("refused"), "and refused before the first hash finished: fast");
});

t.test("a caller that hangs up leaves the queue: its hash never runs and its place goes to the next", async (t) => {
  const small = createPasswordHasher(OWASP_MINIMUM, { maxConcurrent: 1, maxQueue: 2 });
  let current: AbortSignal | undefined;
  const signalled = createPasswordHasher(OWASP_MINIMUM, { maxConcurrent: 1, maxQueue: 2, callerSignal: () => current });
  const stored = await small.hash("the password");
  const gone = new AbortController();
  const running = signalled.verify(stored, "the password");
  current = gone.signal;
  const abandoned = [signalled.verify(stored, "the password"), signalled.verify(stored, "the password")];
  current = undefined;
  await t.rejects(signalled.verify(stored, "the password"), HasherBusyError, "the queue is full");
  gone.abort();
  for (const work of abandoned) await t.rejects(work, HasherAbandonedError, "the gone callers' work is dropped");
  const next = [signalled.verify(stored, "the password"), signalled.verify(stored, "the password")];
  t.same(await Promise.all([running, ...next]), [true, true, true], "their places went to callers still waiting");
  current = gone.signal;
  await t.rejects(signalled.verify(stored, "the password"), HasherAbandonedError, "a caller already gone is not queued at all");
});

t.test("queued work runs in arrival order", async (t) => {
  const serial = createPasswordHasher(OWASP_MINIMUM, { maxConcurrent: 1 });
  const finished: number[] = [];
  await Promise.all([0, 1, 2, 3].map((i) => serial.hash(`password ${i}`).then(() => finished.push(i))));
  t.same(finished, [0, 1, 2, 3]);
});

t.test("length counts code points: 15 emoji pass, 14 fail", async (t) => {
  t.same(checkPasswordPolicy("🔐🦊🌵🎲🚲🍉🐙🎷🌋🧲🪁🦉🍄🛶🧊", policy, {}), { ok: true });
  t.same(checkPasswordPolicy("🔐🦊🌵🎲🚲🍉🐙🎷🌋🧲🪁🦉🍄🛶", policy, {}), { ok: false, reason: "password_too_short" });
});

t.test("length is counted after NFC: 15 decomposed accents count as 15", async (t) => {
  const decomposed = "e\u0301".repeat(14);
  t.equal(decomposed.length, 28);
  t.same(checkPasswordPolicy(decomposed, policy, {}), { ok: false, reason: "password_too_short" });
  t.same(checkPasswordPolicy([..."aeiouycgklmnprs"].map((letter) => `${letter}\u0301`).join(""), policy, {}), { ok: true });
});

t.test("1,024 code points are accepted and 1,025 are too long", async (t) => {
  const text = randomBytes(768).toString("base64"); // 1,024 characters that do not repeat
  t.same(checkPasswordPolicy(text, policy, {}), { ok: true });
  t.same(checkPasswordPolicy(`${text}x`, policy, {}), { ok: false, reason: "password_too_long" });
});

t.test("no composition rules: lower-case, Cyrillic and punctuation passphrases pass", async (t) => {
  for (const phrase of ["all lower case words here", "пароль из нескольких слов", `quotes "'\\;<> and more`]) {
    t.same(checkPasswordPolicy(phrase, policy, {}), { ok: true }, phrase);
  }
});

t.test("the shipped blocklist holds at least 3,000 passwords and rejects a listed one", async (t) => {
  t.ok(commonPasswordCount() >= 3000, `${commonPasswordCount()} entries`);
  const blocked = { ok: false, reason: "password_blocklisted" };
  t.same(checkPasswordPolicy("1qaz2wsx3edc4rfv", policy, {}), blocked, "a listed 16-char password");
  t.same(checkPasswordPolicy("1QAZ2WSX3EDC4RFV", policy, {}), blocked, "matched case-insensitively");
  t.same(checkPasswordPolicy("password", { minLength: 8, maxLength: 64 }, {}), blocked, "the classic");
  t.same(checkPasswordPolicy("1qaz2wsx3edc4rfv is not my password", policy, {}), { ok: true }, "whole match only");
});

t.test("a context word or its repetition is refused, a sentence that mentions one is not", async (t) => {
  const context = { email: "Jane.Doe@example.com", name: "Jane Doe", serviceName: "Acme" };
  const short = { minLength: 8, maxLength: 64 };
  const refused = { ok: false, reason: "password_contains_context" };
  t.same(checkPasswordPolicy("acmeacme", short, context), refused, "service name twice");
  t.same(checkPasswordPolicy("ACME ACME ACME", short, context), refused, "case and spaces ignored");
  t.same(checkPasswordPolicy("jane.doejane.doe", short, context), refused, "email local part repeated");
  t.same(checkPasswordPolicy("jane.doe@example.com", short, context), refused, "the full email");
  t.same(checkPasswordPolicy("Jane Doe Jane Doe", short, context), refused, "the name repeated");
  t.same(checkPasswordPolicy("acme rocket skates forever", short, context), { ok: true }, "mentions the service");
  t.same(checkPasswordPolicy("my-password-is-a-long-sentence", policy, { serviceName: "password" }), { ok: true });
});

function flipCase(text: string): string {
  return [...text].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join("");
}

async function medianMs(run: () => Promise<unknown>, samples = 5): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b)[Math.floor(samples / 2)]!;
}
