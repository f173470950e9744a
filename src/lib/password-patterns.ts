// The shapes of a password that a blocklist compares, and the predictable shapes it refuses on
// its own. NIST SP 800-63B-4 §3.1.1.2 asks verifiers to refuse "commonly used, expected, or
// compromised" values; SP 800-63B-3 §5.1.1.2 named the expected ones: dictionary words,
// repetitive or sequential characters ("aaaaaa", "1234abcd"), context words. Breach corpora
// hold few long entries, so people meet a 15-character minimum by decorating a short common
// password ("iloveyou1234", "P@ssw0rd2024!") or by walking the keyboard ("1qaz2wsx3edc4rfv");
// these functions find those shapes. None of this is a composition rule (§3.1.1.2 SHALL NOT):
// a password is refused for what it is derived from, never for the classes it lacks.

/** Punctuation, spaces and separators people put between the words of a password. */
const SEPARATORS = /[\s\-_.,:;'"`·]+/gu;
/** Digits and symbols: what a short password is padded with. */
const PADDING = /^[\p{N}\p{P}\p{S}]*/u;

export const lowerForm = (text: string) => text.normalize("NFC").toLowerCase();

/** Lower case without separators: "I-Love You!" and "iloveyou!" compare equal. */
export const canonicalForm = (text: string) => lowerForm(text).replace(SEPARATORS, "");

export const codePoints = (text: string) => [...text].length;

/** The forms of a password that are compared with a list: as typed (lower case) and canonical. */
export function comparedForms(password: string): string[] {
  return [...new Set([lowerForm(password), canonicalForm(password)])].filter((form) => form.length > 0);
}

/**
 * Whether `form` is derived from a word `isListed` accepts: the word itself, a repetition of it
 * ("iloveyouiloveyou"), or either padded with predictable digits and symbols ("password123456789",
 * "summer2024!!"), each also in its leetspeak reading ("p@ssw0rd"). Words shorter than
 * `minWordLength` are never looked up: too many short strings are someone's password.
 */
export function isDerivedFrom(form: string, isListed: (word: string) => boolean, minWordLength: number): boolean {
  return splitsOf(form).some((core) =>
    readingsOf(core).some((word) =>
      [word, repeatedUnit(word)].some((candidate) => candidate !== undefined && codePoints(candidate) >= minWordLength && isListed(candidate)),
    ),
  );
}

/**
 * The cores left when predictable padding is cut from either end (and the form itself). Every cut
 * within a padding run is tried, so a listed word that ends in digits ("acme42" + "2024") is found.
 */
function splitsOf(form: string): string[] {
  const chars = [...form];
  const leading = codePoints(PADDING.exec(form)![0]);
  if (leading === chars.length) return [form];
  const trailing = codePoints(PADDING.exec(reverse(form))![0]);
  const starts = cutsWithin(leading).filter((cut) => isPredictablePadding(chars.slice(0, cut).join("")));
  const ends = cutsWithin(trailing).filter((cut) => isPredictablePadding(chars.slice(chars.length - cut).join("")));
  return [...new Set(starts.flatMap((start) => ends.map((end) => chars.slice(start, chars.length - end).join(""))))];
}

// Cuts into a padding run of `length`: none, the first few, and the whole run; bounded so a long
// run of digits costs a few hundred lookups at most.
const MAX_CUT = 8;
function cutsWithin(length: number): number[] {
  return [...new Set([0, ...Array.from({ length: Math.min(length, MAX_CUT) }, (_, i) => i + 1), length])];
}

/**
 * Padding an attacker's rules try first: up to four characters ("1234", "2024", "!!"), a year
 * with up to two more, a walk or run ("123456789", "!@#$%^"), or a short chunk repeated ("123123").
 * Random digits ("482910") are not predictable, so "482910ab39201844" keeps its strength.
 */
function isPredictablePadding(padding: string): boolean {
  const length = codePoints(padding);
  if (length <= 4) return true;
  if (codePoints(padding.replace(/(?:19|20)\d\d/u, "")) <= 2) return true;
  return walkRuns(padding) <= 2 || (repeatedUnit(padding)?.length ?? length) <= 4;
}

const LEET: Record<string, string> = {
  "4": "a", "@": "a", "8": "b", "(": "c", "3": "e", "6": "g", "9": "g", "1": "i", "!": "i",
  "|": "i", "0": "o", "5": "s", "$": "s", "7": "t", "+": "t", "2": "z",
};

/** The word and its leetspeak readings; "1" and "|" stand for "i" or "l". */
function readingsOf(word: string): string[] {
  if (!/\p{L}/u.test(word)) return [word];
  const read = (one: string) => [...word].map((c) => (c === "1" || c === "|" ? one : (LEET[c] ?? c))).join("");
  return [...new Set([word, read("i"), read("l")])];
}

/**
 * The unit a form repeats at least twice ("abcabcab" -> "abc"), or undefined. A repeated unit
 * adds almost nothing an attacker must guess, so the unit's length is the password's real length.
 */
export function repeatedUnit(form: string): string | undefined {
  const chars = [...form];
  // The smallest period is the length less the longest proper border (KMP prefix function):
  // linear, so a 1,024-character password cannot make the check quadratic.
  const border = new Array<number>(chars.length).fill(0);
  for (let i = 1, k = 0; i < chars.length; i++) {
    while (k > 0 && chars[i] !== chars[k]) k = border[k - 1]!;
    if (chars[i] === chars[k]) k++;
    border[i] = k;
  }
  const period = chars.length - (border[chars.length - 1] ?? 0);
  return period * 2 <= chars.length ? chars.slice(0, period).join("") : undefined;
}

// A US QWERTY keyboard as zxcvbn models it: each row shifted right of the one above, so a key
// touches the keys within one unit left, right, above and below. Shifted symbols share their key.
const KEY_ROWS = [
  ["`1234567890-=", "~!@#$%^&*()_+", 0],
  ["qwertyuiop[]\\", "QWERTYUIOP{}|", 1.5],
  ["asdfghjkl;'", 'ASDFGHJKL:"', 1.75],
  ["zxcvbnm,./", "ZXCVBNM<>?", 2.25],
] as const;
const KEYS = new Map<string, { row: number; x: number }>();
KEY_ROWS.forEach(([keys, shifted, offset], row) =>
  [...keys].forEach((key, i) => {
    KEYS.set(key, { row, x: offset + i });
    KEYS.set(shifted[i]!, { row, x: offset + i });
  }),
);

function isPredictableStep(a: string, b: string): boolean {
  if (a === b) return true;
  const [ka, kb] = [KEYS.get(a), KEYS.get(b)];
  if (ka && kb && Math.abs(ka.row - kb.row) <= 1 && Math.abs(ka.x - kb.x) <= 1) return true;
  // Alphabet and digit runs, forwards or backwards ("abcd", "9876", "эюя").
  return /[\p{L}\p{N}]/u.test(a) && /[\p{L}\p{N}]/u.test(b) && Math.abs(a.codePointAt(0)! - b.codePointAt(0)!) === 1;
}

/** How many runs of keyboard-adjacent, sequential or repeated characters the form is made of. */
export function walkRuns(form: string): number {
  const chars = [...form];
  let runs = chars.length > 0 ? 1 : 0;
  for (let i = 1; i < chars.length; i++) if (!isPredictableStep(chars[i - 1]!, chars[i]!)) runs++;
  return runs;
}

/** Keyboard walks and runs: on average four or more characters per run ("qwertyuiop123456", "1qaz2wsx3edc4rfv"). */
export const isWalk = (form: string) => codePoints(form) >= 8 && codePoints(form) >= 4 * walkRuns(form);

function reverse(text: string): string {
  return [...text].reverse().join("");
}
