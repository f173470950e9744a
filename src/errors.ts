// The catalogue of stable error codes. Services throw `AppError(code)`; the one
// error handler (plugins/problem-handler.ts) turns it into application/problem+json
// (RFC 9457). The title is public; details for operators go to the log only.
export const errorCatalogue = {
  VALIDATION_FAILED: { status: 400, title: "The request does not match the schema." },
  CREDENTIAL_IN_URL: { status: 400, title: "Tokens, codes and passwords must not be sent in the URL; send them in the body or a header." },
  PASSWORD_TOO_SHORT: { status: 400, title: "The password is too short." },
  PASSWORD_TOO_LONG: { status: 400, title: "The password is too long." },
  PASSWORD_BLOCKLISTED: { status: 400, title: "The password is too common; choose another." },
  PASSWORD_CONTAINS_CONTEXT: { status: 400, title: "The password must not be your email, name or the service name." },
  INVALID_CREDENTIALS: { status: 401, title: "The email or password is wrong." },
  UNAUTHENTICATED: { status: 401, title: "A valid access token is required." },
  INVALID_CLIENT: { status: 401, title: "A valid service API key is required." },
  INVALID_REFRESH_TOKEN: { status: 401, title: "The refresh token is invalid, expired or spent." },
  INVALID_CURRENT_PASSWORD: { status: 401, title: "The current password is wrong." },
  INVALID_CURRENT_CREDENTIALS: { status: 401, title: "The current password or the code is wrong." },
  INVALID_MFA_TOKEN: { status: 401, title: "The MFA token is invalid, used or expired; sign in again." },
  MFA_TOKEN_EXHAUSTED: { status: 401, title: "Too many attempts with this MFA token; sign in again." },
  INVALID_CODE: { status: 401, title: "The code is wrong, expired or already used." },
  ENROLLMENT_CODE_INVALID: { status: 400, title: "The code does not match the authenticator being set up." },
  PASSWORD_SIGN_IN_REQUIRED: {
    status: 403,
    title: "Two-step verification can only be set up or changed after signing in with your password (not Mobile BankID or a remembered device).",
  },
  ACCOUNT_DISABLED: { status: 403, title: "This account is disabled; contact support." },
  REAUTHENTICATION_REQUIRED: { status: 403, title: "Sign in again with your password: this change needs a recent sign-in." },
  SECOND_FACTOR_REQUIRED: { status: 403, title: "This change needs a session that passed the second step." },
  BANK_INTEGRATION_REQUIRES_TOTP: {
    status: 403,
    title: "The bank integration requires two-step verification with an authenticator app (TOTP); set one up first.",
  },
  ORIGIN_NOT_ALLOWED: {
    status: 403,
    title: "Cookie mode (x-session-transport: cookie) is only for pages on an allowed origin (CORS_ALLOWED_ORIGINS), with an Origin header.",
  },
  NOT_COMPANY_ADMIN: { status: 403, title: "Only an admin of this company (or a service client) may do this." },
  INSUFFICIENT_SCOPE: { status: 403, title: "The service client lacks the scope this route needs." },
  NOT_FOUND: { status: 404, title: "Not found." },
  NO_PENDING_ENROLLMENT: { status: 409, title: "No authenticator set-up is in progress; start enrollment first." },
  TOTP_NOT_ENROLLED: { status: 409, title: "No authenticator app is set up." },
  TWO_STEP_REQUIRED_BY_POLICY: { status: 409, title: "A company policy requires two-step verification; it cannot be turned off." },
  NOT_AN_ACCOUNTING_OFFICE: { status: 409, title: "Only an accounting office serves clients." },
  NOT_AN_OFFICE_MEMBER: { status: 409, title: "Only members of the office can be assigned to its clients." },
  INVALID_RELATION: { status: 409, title: "A company cannot be its own client." },
  EMAIL_TAKEN: { status: 409, title: "A user with this email exists." },
  URI_TOO_LONG: { status: 414, title: "A path segment of the URL is too long." },
  BODY_TOO_LARGE: { status: 413, title: "The request body is too large." },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: "Only application/json is accepted." },
  RATE_LIMITED: { status: 429, title: "Too many attempts; wait before trying again." },
  SERVICE_BUSY: { status: 503, title: "The service is busy; retry shortly." },
  UNAVAILABLE: { status: 503, title: "A dependency is unavailable; retry shortly." },
  INTERNAL: { status: 500, title: "Internal error." },
  INVALID_ASSERTION: { status: 401, title: "The external sign-in could not be accepted; sign in again, or with your password." },
  FEDERATED_SIGN_IN_DISABLED: { status: 404, title: "External sign-in (Mobile BankID) is not enabled on this service." },
  EXTERNAL_IDENTITY_TAKEN: { status: 409, title: "This external identity is linked to another user." },
  PUSH_NOT_PAIRED: { status: 409, title: "No authenticator app is paired for push approval; use a code instead." },
  PUSH_TOO_SOON: { status: 429, title: "A push was sent moments ago; wait before sending another." },
  PUSH_BLOCKED: { status: 429, title: "Push approval is paused after a sign-in was reported as not yours; use a code, or wait." },
  PUSH_NOT_PENDING: { status: 409, title: "This push challenge was already answered, was replaced by a newer one, or has expired." },
  PUSH_CONTEXT_MISMATCH: { status: 409, title: "The answer does not match the sign-in the app was shown; reload the challenge." },
  INVALID_APP_SIGNATURE: { status: 401, title: "The authenticator app's signature is missing, invalid, stale or replayed." },
  PAIRING_TOKEN_INVALID: { status: 401, title: "The pairing code is invalid, used or expired; scan a new QR code." },
  PAIRING_PROOF_INVALID: { status: 400, title: "The app did not prove it holds the key it registers." },
  UNSUPPORTED_APP_KEY: { status: 400, title: "The app key must be a public ES256 (P-256) or Ed25519 JWK." },
  APP_KEY_IN_USE: { status: 409, title: "This app key is already paired; create a new key to pair again." },
  NO_PAIRING_TO_CONFIRM: { status: 409, title: "No completed pairing of this session to confirm; scan the QR code with the app first." },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    readonly options: {
      detail?: string;
      retryAfterSeconds?: number;
      logReason?: string;
      /** The person a refusal concerns, when known: the audit of a 429 names them. Never shown. */
      subjectUserId?: string;
    } = {},
  ) {
    super(errorCatalogue[code].title);
    this.status = errorCatalogue[code].status;
  }
}
