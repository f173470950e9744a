// One definition of a second factor. Every list of methods (the TypeBox unions of
// the sign-in and verify schemas, the security state, the `amr` a method adds,
// "has a second factor") derives from this registry, so adding a factor is adding
// one entry. Below every feature on purpose: the sign-in schemas and the mfa and
// push features all read it.
import { Type } from "typebox";
import { AMR, type AmrValue } from "./amr.ts";

/** What the registry's predicates look at: the person's factors, as the repositories count them. */
export interface FactorState {
  /** An active TOTP factor exists (possibly disabled after failures). */
  totpEnrolled: boolean;
  /** An active TOTP factor that accepts codes. */
  totpUsable: boolean;
  /** Unused recovery codes. */
  recoveryCodes: number;
  /** Active paired authenticator apps. */
  pushApps: number;
}

interface FactorDefinition {
  /** The amr value (RFC 8176) a sign-in with this method adds, besides "mfa". */
  amr: AmrValue;
  /** How the method is answered: a code at /v1/auth/mfa/verify, or an approval in a paired app. */
  answeredWith: "code" | "app";
  /** An authenticator of its own (not a fallback like a recovery code): replacing or removing one needs the second step. */
  authenticator: boolean;
  /** Whether this person can use the method now. */
  usable(state: FactorState): boolean;
  /** Whether the method counts as "2SV on" (a disabled authenticator still does: it must be reset, not forgotten). */
  enrolled(state: FactorState): boolean;
  description: string;
}

export const SECOND_FACTORS = {
  totp: {
    amr: AMR.otp,
    answeredWith: "code",
    authenticator: true,
    usable: (s) => s.totpUsable,
    enrolled: (s) => s.totpEnrolled,
    description: "a 6-digit code from an authenticator app (RFC 6238)",
  },
  recovery_code: {
    amr: AMR.recoveryCode,
    answeredWith: "code",
    authenticator: false,
    usable: (s) => s.recoveryCodes > 0,
    enrolled: (s) => s.recoveryCodes > 0,
    description: "a single-use recovery code",
  },
  push: {
    amr: AMR.push,
    answeredWith: "app",
    authenticator: true,
    usable: (s) => s.pushApps > 0,
    enrolled: (s) => s.pushApps > 0,
    description: "an approval in a paired authenticator app, with number matching",
  },
} as const satisfies Record<string, FactorDefinition>;

export type SecondFactorMethod = keyof typeof SECOND_FACTORS;
/** The methods answered with a code at /v1/auth/mfa/verify. */
export type CodeMethod = { [K in SecondFactorMethod]: (typeof SECOND_FACTORS)[K]["answeredWith"] extends "code" ? K : never }[SecondFactorMethod];

const METHODS = Object.keys(SECOND_FACTORS) as SecondFactorMethod[];
const CODE_METHODS = METHODS.filter((m) => SECOND_FACTORS[m].answeredWith === "code") as CodeMethod[];

/** The methods this person may use now, in registry order. */
export const methodsOf = (state: FactorState): SecondFactorMethod[] => METHODS.filter((m) => SECOND_FACTORS[m].usable(state));

/** Two-step verification is on: some factor is enrolled. */
export const hasSecondFactor = (state: FactorState) => METHODS.some((m) => SECOND_FACTORS[m].enrolled(state));

/** An authenticator (TOTP or a paired app) is enrolled: changing factors then needs this session's second step. */
export const hasAuthenticator = (state: FactorState) => METHODS.some((m) => SECOND_FACTORS[m].authenticator && SECOND_FACTORS[m].enrolled(state));

/** An authenticator (not only recovery codes) can be used now: a remembered device may stand in for it. */
export const hasUsableAuthenticator = (state: FactorState) => METHODS.some((m) => SECOND_FACTORS[m].authenticator && SECOND_FACTORS[m].usable(state));

/** The amr value a method adds. */
export const amrOf = (method: SecondFactorMethod): AmrValue => SECOND_FACTORS[method].amr;

// Unsafe only types the union built from the registry; the JSON Schema is the plain anyOf of literals.
export const SecondFactorMethodSchema = Type.Unsafe<SecondFactorMethod>(Type.Union(METHODS.map((m) => Type.Literal(m)), {
  description: `A second-step method: ${METHODS.map((m) => `\`${m}\` (${SECOND_FACTORS[m].description})`).join(", ")}`,
}));

export const CodeMethodSchema = Type.Unsafe<CodeMethod>(Type.Union(CODE_METHODS.map((m) => Type.Literal(m)), { description: "Which second factor the code is" }));
