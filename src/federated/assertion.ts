// The provider's sign-in assertion: a compact JWS carrying a JWT (RFC 7519),
// checked as RFC 8725 asks. Every refusal is one outcome for the caller; which
// check failed is returned for the log only, so a prober learns nothing from the
// answer. The assertion itself is never logged: it is a bearer credential.
import { decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from "jose";
import type { Clock } from "../lib/clock.ts";
import { sha256 } from "../lib/identifiers.ts";
import { KeySourceUnavailable, type Provider } from "./provider.ts";

// Checklist SJ-02: a small tolerance for clock skew between us and the provider.
const CLOCK_TOLERANCE_SECONDS = 30;

// RFC 8725 §3.10: keys named by the token itself (jwk, jku, x5u, x5c) are the
// attacker's choice. `crit` names extensions we would have to understand
// (RFC 7515 §4.1.11); none is expected from the provider, so it is refused too.
const FORBIDDEN_HEADERS = ["jku", "jwk", "x5u", "x5c", "crit"];

// Checklist SJ-03: kid is a map key compared for equality, never a path or a query.
const KID_PATTERN = /^[A-Za-z0-9._~+/=-]{1,256}$/;

// RFC 8725 §3.11: explicitly typed JWTs of other kinds (at+jwt of RFC 9068,
// logout+jwt, secevent+jwt) are refused, so the provider's access or logout
// tokens cannot be replayed as a sign-in; untyped or plain "JWT" is accepted.
const SIGN_IN_TYPES = new Set([undefined, "jwt", "application/jwt"]);

const SUBJECT_MAX_LENGTH = 255;

export type AssertionOutcome =
  | { subject: string; replayKey: string }
  | { rejected: string }
  | { unavailable: unknown };

function headerProblem(assertion: string): string | null {
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(assertion) as Record<string, unknown>;
  } catch {
    return "malformed_header";
  }
  const forbidden = FORBIDDEN_HEADERS.find((name) => name in header);
  if (forbidden) return `forbidden_header_${forbidden}`;
  if (header.kid !== undefined && (typeof header.kid !== "string" || !KID_PATTERN.test(header.kid))) return "malformed_kid";
  const typ = typeof header.typ === "string" ? header.typ.toLowerCase() : header.typ;
  if (!SIGN_IN_TYPES.has(typ as string | undefined)) return "unexpected_typ";
  return null;
}

function subjectOf(payload: JWTPayload): string | null {
  const { sub } = payload;
  return typeof sub === "string" && sub.length > 0 && sub.length <= SUBJECT_MAX_LENGTH ? sub : null;
}

/** A short name for what failed, from jose's stable error codes; never the token or its claims' values. */
function reasonOf(error: unknown): string {
  if (error instanceof errors.JWTClaimValidationFailed || error instanceof errors.JWTExpired) return `${error.code}:${error.claim}:${error.reason}`;
  if (error instanceof errors.JOSEError) return error.code;
  return "unverifiable";
}

export function createAssertionVerifier(provider: Provider, clock: Clock) {
  async function verifiedPayload(assertion: string): Promise<JWTPayload> {
    const { payload } = await jwtVerify(assertion, provider.keys, {
      algorithms: provider.algorithms,
      issuer: provider.issuer,
      audience: provider.audience,
      requiredClaims: ["sub", "iat", "exp"],
      // RFC 7519 §4.1.6: iat bounds how old an assertion may be, whatever its exp says.
      maxTokenAge: provider.maxAgeSeconds,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      currentDate: clock.now(),
    });
    return payload;
  }

  async function verify(assertion: string): Promise<AssertionOutcome> {
    const problem = headerProblem(assertion);
    if (problem) return { rejected: problem };
    let payload: JWTPayload;
    try {
      payload = await verifiedPayload(assertion);
    } catch (error) {
      if (error instanceof KeySourceUnavailable) return { unavailable: error.cause };
      return { rejected: reasonOf(error) };
    }
    const subject = subjectOf(payload);
    // One assertion signs in once: keyed by its jti, or by its hash when it has none.
    const replayKey = typeof payload.jti === "string" && payload.jti.length <= 200 ? `jti:${payload.jti}` : `sha256:${sha256(assertion)}`;
    return subject ? { subject, replayKey } : { rejected: "malformed_sub" };
  }

  return { verify };
}

export type AssertionVerifier = ReturnType<typeof createAssertionVerifier>;
