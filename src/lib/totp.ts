// TOTP (RFC 6238) for authenticator apps, built on otplib 13.
// Parameters are fixed at HMAC-SHA-1, 6 digits, 30 s steps, T0 = 0: the
// defaults every authenticator app implements (RFC 6238 §5.2, RFC 4226 §5.3).
// SHA-1 is "Legacy" in ASVS 5.0 App. C; it is kept for interoperability and is
// still sound as an HMAC PRF (SECURITY-CHECKLIST §2 item 5, SR-07).
// Time always comes from the caller (the server clock), never from the client
// (ASVS 6.5.8).
import { generate, generateSecret, verify } from "otplib";
import QRCode from "qrcode";

const PERIOD_SECONDS = 30;
const DIGITS = 6;
// RFC 4226 §4 R6: at least 128 bits, 160 RECOMMENDED (OTP-03).
const SECRET_BYTES = 20;
const TOTP_PARAMS = { algorithm: "sha1", digits: DIGITS, period: PERIOD_SECONDS, t0: 0 } as const;
// RFC 6238 §5.2: at most one step of network delay, so T-1, T and T+1
// (OTP-04). otplib takes the tolerance in seconds, not steps.
const TOLERANCE_SECONDS = PERIOD_SECONDS;
// Checked before otplib sees the token: otplib throws on a bad format, and a
// strict ASCII pattern also refuses full-width digits and padding (OTP-09).
const CODE_PATTERN = /^[0-9]{6}$/;

export type TotpVerification =
  | { valid: true; step: number }
  | { valid: false; reason: "malformed" | "invalid" | "replay" };

export interface TotpCheck {
  secret: string;
  code: string;
  at: Date;
  /** The highest step already accepted for this credential, or null if none. */
  lastUsedStep: number | null;
}

/** A new seed: 20 CSPRNG bytes, Base32 without padding (RFC 4648 §6). */
export function generateTotpSecret(): string {
  return generateSecret({ length: SECRET_BYTES });
}

/**
 * The Google Authenticator key URI. algorithm, digits and period are written
 * out even though they are the defaults, so a reader of the URI (and OTP-02's
 * test) sees the parameters the server will verify with.
 */
export function totpUri({ issuer, accountName, secret }: { issuer: string; accountName: string; secret: string }): string {
  assertNoColon("issuer", issuer);
  assertNoColon("accountName", accountName);
  // encodeURIComponent, not URLSearchParams: the key-URI format wants spaces as
  // %20, and some apps show a "+" literally.
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(accountName)}`;
  const query = [
    ["secret", secret],
    ["issuer", issuer],
    ["algorithm", "SHA1"],
    ["digits", String(DIGITS)],
    ["period", String(PERIOD_SECONDS)],
  ]
    .map(([key, value]) => `${key}=${encodeURIComponent(value!)}`)
    .join("&");
  return `otpauth://totp/${label}?${query}`;
}

// The key-URI format uses ":" to split issuer from account; apps disagree on
// how to read an encoded colon inside either part, so refuse it outright.
function assertNoColon(name: string, value: string): void {
  if (value.length === 0 || value.includes(":")) {
    throw new TypeError(`${name} must be non-empty and must not contain ":"`);
  }
}

/** An SVG rendering of the key URI, for the enrolment response. */
export function totpQrSvg(uri: string): Promise<string> {
  return QRCode.toString(uri, { type: "svg", errorCorrectionLevel: "M" });
}

/** RFC 6238 §4.2: T = floor((unix time - T0) / X), with T0 = 0 and X = 30. */
export function timeStepAt(date: Date): number {
  return Math.floor(unixSeconds(date) / PERIOD_SECONDS);
}

function unixSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

/** The code an authenticator app shows at `at` for this seed. */
export function generateTotpCode(secret: string, at: Date): Promise<string> {
  return generate({ secret, ...TOTP_PARAMS, epoch: unixSeconds(at) });
}

/**
 * Checks a code against steps T-1..T+1 and refuses any step at or below
 * `lastUsedStep` (RFC 6238 §5.2: "MUST NOT accept the second attempt of the
 * same OTP"; ASVS 6.5.1). The caller persists the returned step with a
 * compare-and-set so that two concurrent requests cannot both succeed (OTP-05).
 *
 * Never throws for anything a client can send. It does throw if otplib refuses
 * the stored seed itself (wrong length, not Base32): that is a server fault.
 */
export async function verifyTotpCode({ secret, code, at, lastUsedStep }: TotpCheck): Promise<TotpVerification> {
  if (!CODE_PATTERN.test(code)) return { valid: false, reason: "malformed" };
  const epoch = unixSeconds(at);

  const fresh = await matchStep(secret, code, epoch, lastUsedStep);
  if (fresh !== null) return { valid: true, step: fresh };
  if (lastUsedStep === null || clockWentBack(lastUsedStep, at)) return { valid: false, reason: "invalid" };

  // Second pass without the replay guard, only to tell a replay (which ASVS
  // 4.0.3 2.8.5 wants logged) from a wrong code. Done after the guarded pass so
  // that a code which happens to match both a used and an unused step in the
  // window is still accepted for the unused one.
  const any = await matchStep(secret, code, epoch, null);
  return { valid: false, reason: any === null ? "invalid" : "replay" };
}

// A last-used step beyond T+1 means the server clock went backwards (otplib
// throws AfterTimeStepRangeExceededError). No code can be accepted until the
// clock catches up, and the user is not replaying anything: report "invalid",
// and let the caller's monitoring of clock offset raise the alert (ASVS 16.2.2).
function clockWentBack(lastUsedStep: number, at: Date): boolean {
  return lastUsedStep > timeStepAt(at) + 1;
}

// otplib 13 does not re-export its error classes, and @otplib/core is not our
// dependency; the names are set explicitly in each constructor, so match those.
const MAPPED_TO_NO_MATCH = new Set([
  "TokenError",
  "TokenLengthError",
  "TokenFormatError",
  "AfterTimeStepRangeExceededError",
]);

/** The matched time step, or null. */
async function matchStep(secret: string, token: string, epoch: number, afterStep: number | null): Promise<number | null> {
  try {
    const result = await verify({
      secret,
      token,
      ...TOTP_PARAMS,
      epoch,
      epochTolerance: TOLERANCE_SECONDS,
      afterTimeStep: afterStep ?? undefined,
    });
    // The functional API's result type also covers HOTP, which has no timeStep.
    return result.valid && "timeStep" in result ? result.timeStep : null;
  } catch (error) {
    // Token errors cannot happen after CODE_PATTERN; mapped anyway because a
    // format problem is the client's, never a 500 (OTP-09).
    if (error instanceof Error && MAPPED_TO_NO_MATCH.has(error.name)) return null;
    throw error;
  }
}
