import { Type, type Static } from "typebox";
import { EmailSchema, PasswordSchema } from "../accounts/schemas.ts";
import { RequirementSourceSchema } from "../companies/schemas.ts";
import { TokenPairProperties } from "../sessions/schemas.ts";
import { SecondFactorMethodSchema } from "../lib/second-factors.ts";

export { SecondFactorMethodSchema };

export const LoginBodySchema = Type.Object(
  {
    email: EmailSchema,
    password: PasswordSchema,
    deviceToken: Type.Optional(
      Type.String({ minLength: 1, maxLength: 4096, description: "A device token from an earlier verify with rememberDevice: skips the second step while valid" }),
    ),
  },
  { additionalProperties: false },
);
export type LoginBody = Static<typeof LoginBodySchema>;

export const AuthenticatedSchema = Type.Object(
  {
    status: Type.Literal("authenticated", { description: "Signed in; the tokens are ready" }),
    ...TokenPairProperties,
    deviceToken: Type.Optional(Type.String({ description: "Present when rememberDevice was asked: skips the second step for 30 days" })),
    enrollment: Type.Optional(
      Type.Object(
        {
          requiredBy: Type.Array(RequirementSourceSchema, { description: "The policies that require 2SV" }),
          deadline: Type.String({ format: "date-time", description: "After this, sign-in walks the person through enrollment first" }),
          daysRemaining: Type.Integer({ description: "Whole days left to set up two-step verification" }),
        },
        { additionalProperties: false, description: "Present in a grace period: 2SV is mandatory but not yet enforced" },
      ),
    ),
  },
  { additionalProperties: false, description: "The person is signed in" },
);
export type Authenticated = Static<typeof AuthenticatedSchema>;

export const MfaRequiredSchema = Type.Object(
  {
    status: Type.Literal("mfa_required", { description: "The password was right; a second step is needed" }),
    mfaToken: Type.String({ description: "Short-lived token for /v1/auth/mfa/verify and /v1/auth/mfa/push; worth nothing else" }),
    methods: Type.Array(SecondFactorMethodSchema, { description: "Methods the person has set up" }),
    expiresIn: Type.Integer({ description: "Seconds until the MFA token expires" }),
  },
  { additionalProperties: false, description: "A second step is required" },
);

export const EnrollmentRequiredSchema = Type.Object(
  {
    status: Type.Literal("mfa_enrollment_required", { description: "2SV is mandatory and not set up yet" }),
    enrollmentToken: Type.String({ description: "Token that works only on the TOTP enrollment routes" }),
    requiredBy: Type.Array(RequirementSourceSchema, { description: "The policies that require 2SV" }),
    expiresIn: Type.Integer({ description: "Seconds until the enrollment token expires" }),
  },
  { additionalProperties: false, description: "Two-step verification must be enrolled first" },
);

export const LoginResultSchema = Type.Union([AuthenticatedSchema, MfaRequiredSchema, EnrollmentRequiredSchema], {
  description: "The outcome of a correct password, told apart by `status`",
});
export type LoginResult = Static<typeof LoginResultSchema>;
