import { Type, type Static } from "typebox";

// A compact JWS is three base64url parts (RFC 7515 §7.1); the signature may be
// empty so that `alg: none` reaches the verifier and gets the same 401 as any
// other refused assertion, not a 400 that would single it out.
const COMPACT_JWS = "^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]*$";
const ASSERTION_MAX_LENGTH = 8192;

export const FederatedSignInBodySchema = Type.Object(
  {
    assertion: Type.String({
      minLength: 1,
      maxLength: ASSERTION_MAX_LENGTH,
      pattern: COMPACT_JWS,
      description: "The provider's signed assertion: a compact JWS (JWT) issued by the configured issuer for this service's audience",
    }),
  },
  { additionalProperties: false, examples: [{ assertion: "eyJhbGciOiJQUzI1NiIsImtpZCI6ImJyb2tlci0xIn0.eyJzdWIiOiIxOTgwMDEwMTEyMzQifQ.c2lnbmF0dXJl" }] },
);
export type FederatedSignInBody = Static<typeof FederatedSignInBodySchema>;

export const UserIdParams = Type.Object(
  { id: Type.String({ format: "uuid", description: "User id" }) },
  { additionalProperties: false },
);

export const LinkExternalIdentityBodySchema = Type.Object(
  {
    subject: Type.String({
      minLength: 1,
      maxLength: 255,
      // No control characters: the subject is compared byte for byte with the assertion's `sub`.
      pattern: "^[^\\u0000-\\u001f\\u007f]+$",
      description: "The person's `sub` at the configured provider (FEDERATED_PROVIDER), exactly as its assertions carry it",
    }),
  },
  { additionalProperties: false, examples: [{ subject: "198001011234" }] },
);
export type LinkExternalIdentityBody = Static<typeof LinkExternalIdentityBodySchema>;
