// Recovery codes (NIST SP 800-63B-4 look-up secrets). A code is 80 bits from the CSPRNG written as
// 16 Crockford Base32 characters: above the 64 bits checklist RC-01 asks for, and below 112 bits,
// so the caller stores `secret` as an argon2id hash, never as plain SHA-256 (ASVS 5.0 6.5.2).
// Codes are found by their user (the MFA challenge names the user), so no part is stored in clear.
import { randomBytes } from "node:crypto";

// Crockford's alphabet drops I, L, O and U so a code read aloud or retyped is not misread.
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const CODE_BYTES = 10; // 80 bits = 16 characters × 5 bits
const GROUP_LENGTH = 4;
const ALIASES: Record<string, string> = { O: "0", I: "1", L: "1" };
const SEPARATORS = /[\s-]+/g;
// Checked before upper-casing: "ı".toUpperCase() is "I" and "ſ".toUpperCase() is "S", and such
// look-alikes must be refused, not quietly accepted (checklist IV-06: "otherwise strict").
const ASCII_CODE = /^[0-9A-Za-z]{16}$/;
const CANONICAL_CODE = /^[0-9A-HJKMNP-TV-Z]{16}$/;

export interface RecoveryCode {
  /** The display form, XXXX-XXXX-XXXX-XXXX, shown to the person once. */
  code: string;
  /** The canonical 16 characters: what is hashed and compared. */
  secret: string;
}

export function generateRecoveryCode(): RecoveryCode {
  const secret = encodeCrockford(randomBytes(CODE_BYTES));
  return { code: formatForDisplay(secret), secret };
}

// Checklist RC-06 / IV-06: case, spaces and hyphens do not matter and Crockford's aliases are
// read as their digits; anything else that is not exactly 16 alphabet characters is refused.
export function normalizeRecoveryCode(input: string): string | null {
  const compact = input.replace(SEPARATORS, "");
  if (!ASCII_CODE.test(compact)) return null;
  const secret = resolveAliases(compact.toUpperCase());
  if (!CANONICAL_CODE.test(secret)) return null;
  return secret;
}

function resolveAliases(code: string): string {
  return code.replace(/[OIL]/g, (letter) => ALIASES[letter] ?? letter);
}

function formatForDisplay(secret: string): string {
  const groups: string[] = [];
  for (let i = 0; i < secret.length; i += GROUP_LENGTH) groups.push(secret.slice(i, i + GROUP_LENGTH));
  return groups.join("-");
}

// Big-endian, 5 bits per character. 10 bytes divide evenly, so no padding and no bias.
function encodeCrockford(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let output = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      output += ALPHABET[(value >>> bits) & 31];
    }
    value &= (1 << bits) - 1;
  }
  return output;
}
