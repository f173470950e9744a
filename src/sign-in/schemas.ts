import { Type, type Static } from "typebox";
import { EmailSchema, PasswordSchema } from "../accounts/schemas.ts";
import { RequirementSourceSchema } from "../companies/schemas.ts";
import { TOKEN_ANSWER_ID, TokenPairProperties } from "../sessions/schemas.ts";
import { SecondFactorMethodSchema as MethodSchema } from "../lib/second-factors.ts";
import { component, outcomes, ref } from "../http/components.ts";

/** A second-step method, named: the sign-in answer and the security state list them. */
export const SecondFactorMethodSchema = component("SecondFactorMethod", MethodSchema);

export const LoginBodySchema = Type.Object(
  {
    email: EmailSchema,
    password: PasswordSchema,
    deviceToken: Type.Optional(
      Type.String({ minLength: 1, maxLength: 4096, description: "A device token from an earlier verify with rememberDevice: skips the second step while valid" }),
    ),
  },
  { additionalProperties: false, examples: [{ email: "ada@example.com", password: "correct horse battery staple" }] },
);
export type LoginBody = Static<typeof LoginBodySchema>;

/** The people a mandate reaches, and by which company policies: one shape wherever it is shown. */
export const RequiredBySchema = component(
  "RequiredBy",
  Type.Array(ref(RequirementSourceSchema), { description: "The company policies that require two-step verification, and how each reaches the person" }),
);

export const ClockDriftSchema = component("ClockDrift", Type.Object(
  {
    direction: Type.Union([Type.Literal("behind"), Type.Literal("ahead")], { description: "The phone's clock is behind or ahead of the server's by about 30 s" }),
    acceptedInARow: Type.Integer({ description: "Accepted codes in a row from that neighbouring time step" }),
  },
  { additionalProperties: false, description: "Present when codes keep landing one step off: tell the person to set the phone's time automatically before codes stop working" },
));

export const RecoveryCodesSchema = component("RecoveryCodes", Type.Array(
  Type.String({ description: "XXXX-XXXX-XXXX-XXXX (80 bits); case and dashes are ignored when typed" }),
  { description: "Recovery codes, shown only in this answer: keep them safe for a lost phone" },
));

export const EnrollmentGraceSchema = component("EnrollmentGrace", Type.Object(
  {
    requiredBy: ref(RequiredBySchema),
    deadline: Type.String({ format: "date-time", description: "After this, sign-in walks the person through enrollment first" }),
    daysRemaining: Type.Integer({ description: "Whole days left to set up two-step verification" }),
  },
  { additionalProperties: false, description: "Present in a grace period: 2SV is mandatory but not yet enforced" },
));

/**
 * The token answer: every route that signs a person in (password, external,
 * second step, push, enrollment) answers with this one shape.
 */
export const AuthenticatedSchema = component(TOKEN_ANSWER_ID, Type.Object(
  {
    status: Type.Literal("authenticated", { description: "Signed in; the tokens are ready" }),
    ...TokenPairProperties,
    deviceToken: Type.Optional(Type.String({ description: "Present when rememberDevice was asked: skips the second step for 30 days" })),
    enrollment: Type.Optional(ref(EnrollmentGraceSchema)),
    clockDrift: Type.Optional(ref(ClockDriftSchema)),
    recoveryCodes: Type.Optional(ref(RecoveryCodesSchema, {
      description: "After a recovery code was used as the second step: its replacement, shown only here",
    })),
  },
  { additionalProperties: false, description: "The person is signed in" },
));
export type Authenticated = Static<typeof AuthenticatedSchema>;

export const MfaRequiredSchema = component("MfaRequired", Type.Object(
  {
    status: Type.Literal("mfa_required", { description: "The password was right; a second step is needed" }),
    mfaToken: Type.String({ description: "Short-lived token for /v1/auth/mfa/verify and /v1/auth/mfa/push; worth nothing else" }),
    methods: Type.Array(ref(SecondFactorMethodSchema), { description: "Methods the person has set up" }),
    expiresIn: Type.Integer({ description: "Seconds until the MFA token expires" }),
  },
  { additionalProperties: false, description: "A second step is required" },
));

export const EnrollmentRequiredSchema = component("EnrollmentRequired", Type.Object(
  {
    status: Type.Literal("mfa_enrollment_required", { description: "2SV is mandatory and not set up yet" }),
    enrollmentToken: Type.String({ description: "Token that works only on the TOTP and push enrollment routes" }),
    requiredBy: ref(RequiredBySchema),
    expiresIn: Type.Integer({ description: "Seconds until the enrollment token expires" }),
  },
  { additionalProperties: false, description: "Two-step verification must be enrolled first" },
));

export const LoginResultSchema = component("SignInOutcome", outcomes([AuthenticatedSchema, MfaRequiredSchema, EnrollmentRequiredSchema], {
  description: "The outcome of a correct password (or external assertion), told apart by `status`",
}));
export type LoginResult = Static<typeof LoginResultSchema>;

/** The second step's outcome: today always signed in; a oneOf so that new outcomes can come without a new shape. */
export const SecondStepOutcomeSchema = component("SecondStepOutcome", outcomes([AuthenticatedSchema], {
  description: "The outcome of the second step, told apart by `status`",
}));

// Example values shared by the operations' documented answers (they validate against the schemas above).
const EXAMPLE_REQUIRED_BY = [{ companyId: "4f7d8a52-0b6c-4e1f-9a3d-2c5e8b1a7f60", companyName: "Nordic Books AB", via: "membership" as const }];
export const signInExamples = {
  authenticated: {
    summary: "Signed in",
    value: { status: "authenticated", accessToken: "eyJhbGciOiJFZERTQSIsImtpZCI6ImFjY2Vzcy0xIiwidHlwIjoiYXQrand0In0.e30.c2ln", refreshToken: "rt_3q2-7wNfLkYwS0m3m6u8cA", expiresIn: 600, tokenType: "Bearer" },
  },
  mfaRequired: {
    summary: "Second step needed",
    value: { status: "mfa_required", mfaToken: "mfa_Zk3Q9x0cVb7nT2r", methods: ["totp", "recovery_code"], expiresIn: 300 },
  },
  enrollmentRequired: {
    summary: "Two-step verification must be set up first",
    value: { status: "mfa_enrollment_required", enrollmentToken: "enr_8Hq2LmPz0sX4", requiredBy: EXAMPLE_REQUIRED_BY, expiresIn: 900 },
  },
};
