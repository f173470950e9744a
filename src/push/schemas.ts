import { Type } from "typebox";
import { AuthenticatedSchema } from "../sign-in/schemas.ts";
import { PushAuthenticatorSchema, RecoveryCodesProperty } from "../mfa/schemas.ts";
import { component, outcomes, ref } from "../http/components.ts";

const Jws = (description: string) => Type.String({ minLength: 10, maxLength: 4096, pattern: "^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$", description });

export const PairingStartedSchema = Type.Object(
  {
    pairingId: Type.String({ format: "uuid", description: "Id of this pairing, for the confirm route" }),
    pairingUri: Type.String({ description: "idpush://pair?v=1&url=…&token=…&issuer=…: what the app scans; the token is single-use" }),
    qrSvg: Type.String({ description: "SVG QR code of pairingUri" }),
    expiresIn: Type.Integer({ description: "Seconds until the pairing token expires (at most 240)" }),
  },
  { additionalProperties: false, description: "A pairing waiting for the app" },
);

const PushAddressSchema = Type.Union([
  Type.Object({
    kind: Type.Literal("webpush", { description: "Web Push (RFC 8030)" }),
    subscription: Type.Object({
      endpoint: Type.String({ maxLength: 1000, pattern: "^https://", description: "The push service endpoint" }),
      keys: Type.Object({
        p256dh: Type.String({ maxLength: 200, description: "The subscription's P-256 public key" }),
        auth: Type.String({ maxLength: 100, description: "The subscription's auth secret" }),
      }, { additionalProperties: false, description: "Message encryption keys (RFC 8291)" }),
    }, { additionalProperties: false, description: "A PushSubscription" }),
  }, { additionalProperties: false, description: "Web Push address" }),
  Type.Object({
    kind: Type.Literal("apns", { description: "Apple Push Notification service" }),
    deviceToken: Type.String({ minLength: 1, maxLength: 200, description: "APNs device token" }),
  }, { additionalProperties: false, description: "APNs address" }),
  Type.Object({
    kind: Type.Literal("fcm", { description: "Firebase Cloud Messaging" }),
    registrationToken: Type.String({ minLength: 1, maxLength: 4096, description: "FCM registration token" }),
  }, { additionalProperties: false, description: "FCM address" }),
], { description: "Where to wake the app; without one the app long-polls" });

export const CompletePairingBodySchema = Type.Object(
  {
    pairingToken: Type.String({ minLength: 10, maxLength: 200, description: "The token from the pairing URI" }),
    name: Type.String({ minLength: 1, maxLength: 60, description: "The name the app shows for itself, e.g. 'Anna's iPhone'; the person confirms it" }),
    publicKey: Type.Record(Type.String(), Type.Unknown(), { description: "The app's public JWK: EC P-256 (ES256) or OKP Ed25519 (EdDSA); never the private part" }),
    pushAddress: Type.Optional(PushAddressSchema),
    proof: Jws("JWS (typ push-pairing+jwt) by that key over {nonce: pairingToken, aud: the service URL, iat}: proof of possession"),
  },
  {
    additionalProperties: false,
    examples: [{
      pairingToken: "pt_Qm9uZXN0bHlSYW5kb20",
      name: "Anna's iPhone",
      publicKey: { kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" },
      pushAddress: { kind: "apns", deviceToken: "740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad" },
      proof: "eyJhbGciOiJFZERTQSIsInR5cCI6InB1c2gtcGFpcmluZytqd3QifQ.eyJub25jZSI6InB0In0.c2lnbmF0dXJl",
    }],
  },
);

export const PairingCompletedSchema = Type.Object(
  {
    pairingId: Type.String({ format: "uuid", description: "The pairing" }),
    thumbprint: Type.String({ description: "RFC 7638 thumbprint of the key: the kid of every later app signature" }),
    status: Type.Literal("awaiting_confirmation", { description: "The person confirms it in the session that started it" }),
  },
  { additionalProperties: false, description: "The app's key is registered, not yet active" },
);

export const PairingParams = Type.Object({ pairingId: Type.String({ format: "uuid", description: "The pairing" }) }, { additionalProperties: false });
export const AuthenticatorParams = Type.Object({ id: Type.String({ format: "uuid", description: "The paired app" }) }, { additionalProperties: false });
export const ChallengeParams = Type.Object({ challengeId: Type.String({ format: "uuid", description: "The push challenge" }) }, { additionalProperties: false });
export const AppChallengeParams = Type.Object({ id: Type.String({ format: "uuid", description: "The push challenge" }) }, { additionalProperties: false });
export const WaitQuery = Type.Object(
  { waitSeconds: Type.Optional(Type.String({ pattern: "^([0-9]|1[0-9]|2[0-5])$", description: "Seconds to wait for a change (0-25); 0 answers at once" })) },
  { additionalProperties: false },
);

export const PairingConfirmedSchema = Type.Object(
  {
    id: Type.String({ format: "uuid", description: "The paired app, now active" }),
    recoveryCodes: Type.Optional(RecoveryCodesProperty),
    session: Type.Optional(ref(AuthenticatedSchema, { description: "With an enrollment token: the session, signed in" })),
  },
  { additionalProperties: false, description: "The app is paired; the recovery code when it is the first factor, the session with an enrollment token" },
);

export const PushAuthenticatorListSchema = Type.Object(
  { authenticators: Type.Array(ref(PushAuthenticatorSchema), { description: "Paired apps and pairings awaiting confirmation" }) },
  { additionalProperties: false, description: "The person's authenticator apps" },
);

export const StartPushBodySchema = Type.Object(
  {
    mfaToken: Type.String({ minLength: 1, maxLength: 512, description: "The MFA token from the login answer" }),
    rememberDevice: Type.Optional(Type.Boolean({ description: "Remember this device for 30 days once approved: the approved answer carries a deviceToken" })),
    deviceName: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: "A label for the trusted device" })),
  },
  { additionalProperties: false, examples: [{ mfaToken: "mfa_Zk3Q9x0cVb7nT2r", rememberDevice: true, deviceName: "Work laptop" }] },
);

export const PushStartedSchema = Type.Object(
  {
    challengeId: Type.String({ format: "uuid", description: "Long-poll GET /v1/auth/mfa/push/{challengeId} with the MFA token" }),
    expiresIn: Type.Integer({ description: "Seconds the app has to answer" }),
    numberToMatch: Type.Union([Type.String({ pattern: "^[0-9]{2}$" }), Type.Null()], { description: "Show this 2-digit number; the person types it in the app (null when number matching is off)" }),
  },
  { additionalProperties: false, description: "A push challenge was sent to the person's paired apps" },
);

export const PushPendingSchema = component("PushPending", Type.Object({
  status: Type.Literal("pending", { description: "Not answered yet: poll again" }),
  expiresIn: Type.Integer({ description: "Seconds left to answer" }),
}, { additionalProperties: false, description: "Still waiting" }));

export const PushRejectedSchema = component("PushRejected", Type.Object({
  status: Type.Literal("rejected", { description: "Rejected in the app: offer a code or sign in again" }),
  reason: Type.String({ description: "declined, not_me (the person reported it) or wrong_number" }),
}, { additionalProperties: false, description: "Rejected" }));

export const PushExpiredSchema = component("PushExpired", Type.Object(
  { status: Type.Literal("expired", { description: "Unanswered in time, or replaced by a newer push" }) },
  { additionalProperties: false, description: "Expired" },
));

export const PushOutcomeSchema = component("PushOutcome", outcomes([AuthenticatedSchema, PushPendingSchema, PushRejectedSchema, PushExpiredSchema], {
  description: "pending, approved (the token answer, once), rejected or expired; told apart by `status`",
}));

export const pushOutcomeExamples = {
  pending: { summary: "Not answered yet", value: { status: "pending", expiresIn: 97 } },
  approved: {
    summary: "Approved: the session",
    value: { status: "authenticated", accessToken: "eyJhbGciOiJFZERTQSIsImtpZCI6ImFjY2Vzcy0xIiwidHlwIjoiYXQrand0In0.e30.c2ln", refreshToken: "rt_3q2-7wNfLkYwS0m3m6u8cA", expiresIn: 600, tokenType: "Bearer" },
  },
  rejected: { summary: "Rejected in the app", value: { status: "rejected", reason: "declined" } },
  expired: { summary: "Unanswered in time", value: { status: "expired" } },
};

export const AppChallengeListSchema = Type.Object(
  {
    challenges: Type.Array(Type.Object({
      id: Type.String({ format: "uuid", description: "The challenge" }),
      service: Type.String({ description: "The service asking" }),
      requestedAt: Type.String({ format: "date-time", description: "When the sign-in asked" }),
      expiresAt: Type.String({ format: "date-time", description: "Answer before this" }),
      clientAddress: Type.Union([Type.String(), Type.Null()], { description: "The signing-in client's address" }),
      browser: Type.Union([Type.String(), Type.Null()], { description: "Browser of the sign-in, from its User-Agent" }),
      os: Type.Union([Type.String(), Type.Null()], { description: "Operating system of the sign-in, from its User-Agent" }),
      numberRequired: Type.Boolean({ description: "Ask the person for the number the sign-in page shows" }),
      contextHash: Type.String({ description: "SHA-256 of this context: the ctx claim of the answer" }),
    }, { additionalProperties: false, description: "A pending sign-in to approve or reject" }), { description: "Pending challenges, newest first (at most one)" }),
  },
  { additionalProperties: false, description: "The app's pending challenges" },
);

export const AnswerBodySchema = Type.Object(
  { answer: Jws("JWS (typ push-answer+jwt, kid = key thumbprint) of {cid, decision: approve|reject, number?, reason?: not_me|declined, ctx, aud, iat, exp ≤ iat+60, jti}") },
  { additionalProperties: false, examples: [{ answer: "eyJhbGciOiJFZERTQSIsInR5cCI6InB1c2gtYW5zd2VyK2p3dCJ9.eyJjaWQiOiIuLi4ifQ.c2lnbmF0dXJl" }] },
);

export const AnswerResultSchema = Type.Object(
  {
    status: Type.Union([Type.Literal("approved"), Type.Literal("rejected")], { description: "What the answer did" }),
    reason: Type.Optional(Type.String({ description: "For a rejection: declined, not_me or wrong_number" })),
  },
  { additionalProperties: false, description: "The challenge is answered" },
);
