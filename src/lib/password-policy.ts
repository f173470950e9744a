// The password policy of NIST SP 800-63B-4 §3.1.1.2 (ASVS 5.0 6.2.1, 6.2.4–6.2.5, 6.2.11–6.2.12):
// length in code points after NFC, no composition rules, and a blocklist compared with the whole
// password (never a substring: "my-password-is-a-long-sentence" is a fine passphrase), with a
// reason when a password is refused.
import { commonPasswordInfo, isCommonPassword } from "./common-passwords.ts";
import { canonicalForm, codePoints, comparedForms, isDerivedFrom, isWalk, repeatedUnit } from "./password-patterns.ts";

export interface PasswordPolicy {
  minLength: number;
  maxLength: number;
}

export interface PasswordContext {
  email?: string;
  name?: string;
  serviceName?: string;
  /** More words the person is known by here, e.g. the names of their companies (ASVS 5.0 6.2.11). */
  extraWords?: readonly string[];
}

export type PasswordPolicyReason =
  | "password_too_short"
  | "password_too_long"
  | "password_blocklisted"
  | "password_contains_context";

export type PasswordPolicyResult = { ok: true } | { ok: false; reason: PasswordPolicyReason };

// The shortest list entry looked up inside a decorated password: shorter ones ("abc", "dog")
// are padded into strong passwords too often to refuse on sight.
const MIN_LISTED_WORD = 4;

export function checkPasswordPolicy(password: string, policy: PasswordPolicy, context: PasswordContext): PasswordPolicyResult {
  const normalized = password.normalize("NFC");
  const length = codePoints(normalized);
  if (length < policy.minLength) return { ok: false, reason: "password_too_short" };
  if (length > policy.maxLength) return { ok: false, reason: "password_too_long" };
  const forms = comparedForms(normalized);
  // Context first: "refused because it is your company's name" tells the person more.
  if (isContextDerived(forms, context)) return { ok: false, reason: "password_contains_context" };
  if (isBlocklisted(forms, policy.minLength)) return { ok: false, reason: "password_blocklisted" };
  return { ok: true };
}

/** Distinct entries of the shipped list (see src/lib/common-passwords.ts). */
export function commonPasswordCount(): number {
  return commonPasswordInfo().entries;
}

function isBlocklisted(forms: string[], minLength: number): boolean {
  return forms.some(
    (form) =>
      isCommonPassword(form) ||
      isDerivedFrom(form, isCommonPassword, MIN_LISTED_WORD) ||
      isShortRepetition(form, minLength) ||
      isWalk(form),
  );
}

// A repeated unit is only as long as the unit: "abcabcabcabcabc" is three characters long.
function isShortRepetition(form: string, minLength: number): boolean {
  const unit = repeatedUnit(form);
  return unit !== undefined && codePoints(unit) < minLength;
}

// ASVS 5.0 6.2.11: refuse the person's own identifiers, the service's name and the names of
// their companies: the whole password, a repetition ("acmeacme") or a padded one ("acme2024!").
function isContextDerived(forms: string[], context: PasswordContext): boolean {
  const words = contextWords(context);
  return words.size > 0 && forms.some((form) => isDerivedFrom(form, (word) => words.has(word), 1));
}

function contextWords({ email, name, serviceName, extraWords = [] }: PasswordContext): Set<string> {
  const localPart = email?.split("@")[0];
  const phrases = [email, localPart, name, serviceName, ...extraWords].filter((phrase): phrase is string => Boolean(phrase));
  const words = new Set(phrases.map(canonicalForm));
  // Each word of a longer name counts too ("Nordic Timber Ltd" -> "timber"), but not short ones ("ab").
  for (const phrase of phrases) {
    for (const word of phrase.split(/[\s@._\-&,]+/u)) if (codePoints(word) >= MIN_LISTED_WORD) words.add(canonicalForm(word));
  }
  words.delete("");
  return words;
}
