// The authentication-method references (RFC 8176 §2) this service writes into
// sessions and tokens, and the named questions every rule asks of them. Rules
// call these predicates instead of listing amr values, so a new factor changes
// one list here. Kept below every feature: sign-in, mfa, companies and push ask them.
export const AMR = {
  password: "pwd",
  otp: "otp",
  recoveryCode: "rec",
  push: "push",
  multiFactor: "mfa",
  trustedDevice: "dt",
  external: "ext",
} as const;

export type AmrValue = (typeof AMR)[keyof typeof AMR];

/** The amr values a second step adds (each second-step sign-in also adds "mfa"). */
const SECOND_STEP_AMR: readonly string[] = [AMR.otp, AMR.recoveryCode, AMR.push, AMR.multiFactor];

/**
 * Signed in with the password itself: not Mobile BankID, not a remembered device
 * (the help article: 2SV is set up only after a password sign-in).
 */
export const isPasswordSignIn = (amr: readonly string[]) =>
  amr.includes(AMR.password) && !amr.includes(AMR.trustedDevice) && !amr.includes(AMR.external);

/** This session passed a second step (or an external provider's multi-factor sign-in). */
export const passedSecondStep = (amr: readonly string[]) => amr.some((m) => SECOND_STEP_AMR.includes(m));

/**
 * This session satisfies a company's 2SV mandate: a second step, or a trusted
 * device that a second step once issued.
 */
export const satisfiesMandate = (amr: readonly string[]) => passedSecondStep(amr) || amr.includes(AMR.trustedDevice);

/** An authenticator code was checked for this token: what the bank integration demands (never push, never a device). */
export const hasFreshTotp = (amr: readonly string[]) => amr.includes(AMR.otp);

/** The session came from the external identity provider. */
export const isExternalSignIn = (amr: readonly string[]) => amr.includes(AMR.external);
