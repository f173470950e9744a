import { Type, type Static } from "typebox";

/** The token pair of every answer that signs a person in. */
export const TokenPairProperties = {
  accessToken: Type.String({ description: "Short-lived JWT (EdDSA, typ at+jwt) for Authorization: Bearer" }),
  refreshToken: Type.Optional(Type.String({
    description: "Opaque refresh token; single use, rotated by /v1/auth/refresh. Absent in cookie mode (x-session-transport: cookie): it is then the HttpOnly __Host-refresh_token cookie",
  })),
  expiresIn: Type.Integer({ description: "Seconds until the access token expires" }),
  tokenType: Type.Literal("Bearer", { description: "Always Bearer" }),
};


/**
 * The id of the token answer, the named schema every sign-in answers with. It is
 * defined by the sign-in feature (sign-in/schemas.ts, which builds it from the
 * properties above); the refresh route, here below it, refers to it by this id.
 */
export const TOKEN_ANSWER_ID = "TokenAnswer";

const TokenPairSchema = Type.Object(
  { status: Type.Literal("authenticated", { description: "Always authenticated" }), ...TokenPairProperties },
  { additionalProperties: false },
);

/** A reference to the token answer, typed as the part a refresh fills in. */
export const TokenAnswerRef = (description: string) => Type.Unsafe<Static<typeof TokenPairSchema>>(Type.Ref(TOKEN_ANSWER_ID, { description }));

export const RefreshBodySchema = Type.Object(
  { refreshToken: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: "The current refresh token; required unless in cookie mode, where it must be absent" })) },
  { additionalProperties: false, examples: [{ refreshToken: "rt_3q2-7wNfLkYwS0m3m6u8cA" }] },
);

export const IntrospectBodySchema = Type.Object(
  {
    token: Type.String({ minLength: 1, maxLength: 4096, description: "An access token or a refresh token" }),
    token_type_hint: Type.Optional(Type.Union([Type.Literal("access_token"), Type.Literal("refresh_token")], { description: "RFC 7662 §2.1 hint" })),
  },
  { additionalProperties: false, examples: [{ token: "eyJhbGciOiJFZERTQSIsImtpZCI6ImFjY2Vzcy0xIiwidHlwIjoiYXQrand0In0.e30.c2ln", token_type_hint: "access_token" }] },
);

export const IntrospectionSchema = Type.Object(
  {
    active: Type.Boolean({ description: "Whether the token is valid now: signature, expiry and its session not revoked" }),
    token_type: Type.Optional(Type.Union([Type.Literal("access_token"), Type.Literal("refresh_token")], { description: "Kind of token" })),
    sub: Type.Optional(Type.String({ description: "User id" })),
    sid: Type.Optional(Type.String({ description: "Session id" })),
    amr: Type.Optional(Type.Array(Type.String(), { description: "Authentication methods (RFC 8176): pwd, otp, rec, dt, ext, mfa, push" })),
    auth_time: Type.Optional(Type.Integer({ description: "When the person authenticated (Unix seconds)" })),
    iss: Type.Optional(Type.String({ description: "Issuer" })),
    aud: Type.Optional(Type.String({ description: "Audience" })),
    iat: Type.Optional(Type.Integer({ description: "Issued at (Unix seconds)" })),
    exp: Type.Optional(Type.Integer({ description: "Expires at (Unix seconds)" })),
    jti: Type.Optional(Type.String({ description: "Token id" })),
  },
  { additionalProperties: false, description: "RFC 7662 introspection response; inactive tokens carry only active: false" },
);

const JwkSchema = Type.Object(
  {
    kty: Type.String({ description: "Key type (OKP)" }),
    crv: Type.String({ description: "Curve (Ed25519)" }),
    x: Type.String({ description: "Public key (base64url)" }),
    kid: Type.String({ description: "Key id; its prefix names the token type it signs (access- or device-)" }),
    alg: Type.String({ description: "Algorithm (EdDSA)" }),
    use: Type.String({ description: "sig" }),
  },
  { additionalProperties: false },
);

export const JwksSchema = Type.Object(
  { keys: Type.Array(JwkSchema, { description: "Public keys, including retired ones until their tokens expire" }) },
  { additionalProperties: false, description: "JSON Web Key Set (RFC 7517)" },
);

export const SessionViewSchema = Type.Object(
  {
    id: Type.String({ format: "uuid", description: "Session id (the sid claim of its access tokens)" }),
    createdAt: Type.String({ format: "date-time", description: "When the session began (UTC)" }),
    lastUsedAt: Type.String({ format: "date-time", description: "Its last sign-in or refresh (UTC)" }),
    clientAddress: Type.Union([Type.String(), Type.Null()], { description: "Client address it began from; null for sessions older than this field" }),
    userAgent: Type.Union([Type.String(), Type.Null()], { description: "User agent it began with (first 300 characters)" }),
    amr: Type.Array(Type.String(), { description: "How the person authenticated (RFC 8176): pwd, otp, rec, dt, ext, mfa" }),
    current: Type.Boolean({ description: "True for the session of this access token" }),
  },
  { additionalProperties: false, description: "A live session" },
);

export const SessionListSchema = Type.Object(
  { sessions: Type.Array(SessionViewSchema, { description: "Live sessions, newest first" }) },
  { additionalProperties: false, description: "The person's live sessions" },
);

export const SessionIdParamsSchema = Type.Object(
  { id: Type.String({ format: "uuid", description: "Session id" }) },
  { additionalProperties: false },
);

export const EndedSessionsSchema = Type.Object(
  { ended: Type.Integer({ minimum: 0, description: "How many sessions were ended" }) },
  { additionalProperties: false, description: "Every other session is ended; this one goes on" },
);
