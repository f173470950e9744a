import { Type } from "typebox";
import { AuthenticatedSchema, ClockDriftSchema, RecoveryCodesSchema as RecoveryCodeList, RequiredBySchema, SecondFactorMethodSchema } from "../sign-in/schemas.ts";
import { CodeMethodSchema } from "../lib/second-factors.ts";
import { component, ref } from "../http/components.ts";

export { ClockDriftSchema };

const CodeSchema = Type.String({
  minLength: 1,
  maxLength: 64,
  description: "The 6-digit code from the authenticator app (or, where allowed, a recovery code)",
  examples: ["123456"],
});

export const TotpEnrollmentSchema = Type.Object(
  {
    secret: Type.String({ description: "Base32 TOTP secret (160 bits), for manual entry; shown only in this answer" }),
    otpauthUri: Type.String({ description: "otpauth:// URI (issuer, account, SHA1, 6 digits, 30 s) for authenticator apps" }),
    qrSvg: Type.String({ description: "SVG QR code of the otpauth URI" }),
  },
  { additionalProperties: false, description: "A pending authenticator; nothing is active until confirmed" },
);

export const ConfirmBodySchema = Type.Object({ code: CodeSchema }, { additionalProperties: false, examples: [{ code: "123456" }] });

export const TotpConfirmBodySchema = Type.Object(
  {
    code: CodeSchema,
    endOtherSessions: Type.Optional(Type.Boolean({
      description: "End every other session of the person with this factor change (checklist SJ-09; ASVS 7.4.3). Default false: the answer's otherSessions says how many remain",
    })),
  },
  { additionalProperties: false, examples: [{ code: "123456", endOtherSessions: true }] },
);

export const RecoveryCodesProperty = ref(RecoveryCodeList);

export const RecoveryCodesSchema = Type.Object(
  { recoveryCodes: RecoveryCodesProperty },
  { additionalProperties: false, description: "New recovery codes; earlier ones no longer work" },
);

export const ConfirmResultSchema = Type.Object(
  {
    recoveryCodes: RecoveryCodesProperty,
    otherSessions: Type.Integer({ minimum: 0, description: "Other live sessions the person still has (0 after endOtherSessions): offer to end them" }),
    session: Type.Optional(ref(AuthenticatedSchema, { description: "With an enrollment token: the session, signed in" })),
  },
  { additionalProperties: false, description: "Two-step verification is on" },
);

export const DisableBodySchema = Type.Object(
  {
    password: Type.String({ minLength: 1, maxLength: 4096, description: "The current password" }),
    code: CodeSchema,
  },
  { additionalProperties: false, examples: [{ password: "correct horse battery staple", code: "123456" }] },
);

export const VerifyBodySchema = Type.Object(
  {
    mfaToken: Type.String({ minLength: 1, maxLength: 512, description: "The MFA token from the login answer" }),
    method: CodeMethodSchema,
    code: CodeSchema,
    rememberDevice: Type.Optional(Type.Boolean({ description: "Remember this device for 30 days: returns a deviceToken" })),
    deviceName: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: "A label for the trusted device, e.g. 'Work laptop'" })),
  },
  { additionalProperties: false, examples: [{ mfaToken: "mfa_Zk3Q9x0cVb7nT2r", method: "totp", code: "123456", rememberDevice: true, deviceName: "Work laptop" }] },
);

export const PushAuthenticatorSchema = component("PushAuthenticator", Type.Object(
  {
    id: Type.String({ format: "uuid", description: "The paired app (or pairing)" }),
    name: Type.String({ description: "The name the app gave at pairing" }),
    status: Type.Union([Type.Literal("active"), Type.Literal("awaiting_confirmation")], { description: "active, or completed by the app and waiting for the person's confirmation" }),
    algorithm: Type.Union([Type.Literal("ES256"), Type.Literal("EdDSA")], { description: "The pinned signature algorithm of the app's key" }),
    pairedAt: Type.String({ format: "date-time", description: "When it was confirmed (or started, while waiting)" }),
    lastUsedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()], { description: "Its last answer" }),
  },
  { additionalProperties: false, description: "An authenticator app paired for push approval" },
));

export { SecondStepOutcomeSchema as VerifyResultSchema } from "../sign-in/schemas.ts";

export const StepUpBodySchema = Type.Object(
  {
    method: Type.Literal("totp", { description: "Only an authenticator code satisfies a step-up" }),
    code: CodeSchema,
  },
  { additionalProperties: false, examples: [{ method: "totp", code: "123456" }] },
);

export const StepUpResultSchema = Type.Object(
  {
    accessToken: Type.String({ description: "Short-lived access token with amr including otp and a fresh auth_time" }),
    expiresIn: Type.Integer({ description: "Seconds until it expires" }),
    tokenType: Type.Literal("Bearer", { description: "Always Bearer" }),
  },
  { additionalProperties: false, description: "A stepped-up access token for the bank integration" },
);

export const TotpStateSchema = component("TotpState", Type.Object(
  {
    enrolledAt: Type.String({ format: "date-time", description: "When the authenticator was confirmed" }),
    disabledAfterFailures: Type.Boolean({ description: "Disabled after too many wrong codes; a recovery code or support reset is needed" }),
  },
  { additionalProperties: false, description: "The authenticator app factor" },
));

export const SecurityStateSchema = component("SecurityState", Type.Object(
  {
    twoStepEnabled: Type.Boolean({ description: "Whether the person has two-step verification set up" }),
    methods: Type.Array(ref(SecondFactorMethodSchema), { description: "Usable second-step methods" }),
    totp: Type.Union([ref(TotpStateSchema), Type.Null()], { description: "The authenticator app factor, or null" }),
    recoveryCodesRemaining: Type.Integer({ description: "Unused recovery codes" }),
    trustedDevices: Type.Integer({ description: "Active trusted devices" }),
    required: Type.Boolean({ description: "Whether 2SV is required: turned on, or mandated by a company policy" }),
    requiredBy: ref(RequiredBySchema),
    bankIntegrationAvailable: Type.Boolean({ description: "The bank integration needs an authenticator app (TOTP); true when one is active" }),
    pushAuthenticators: Type.Optional(Type.Array(ref(PushAuthenticatorSchema), { description: "Paired authenticator apps (present when there is one)" })),
    clockDrift: Type.Optional(ref(ClockDriftSchema)),
  },
  { additionalProperties: false, description: "Two-step verification state" },
));
