// Canonical forms used before every lookup *and* every limiter key, so that
// "User@Example.COM " and "user@example.com" are one account and one counter
// (checklist IV-05).
import { createHash, randomBytes } from "node:crypto";

export function normalizeEmail(email: string): string {
  return email.trim().normalize("NFC").toLowerCase();
}

/** An opaque bearer secret: 256 bits from the CSPRNG, URL-safe (ASVS 7.2.3 asks ≥ 128). */
export function randomToken(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString("base64url")}`;
}

/** Tokens are stored only as SHA-256: enough for ≥ 128-bit random secrets (ASVS 6.5.2). */
export function sha256(value: string): string {
  return createHash("sha256").update(value).digest("base64url");
}
