import { Type, type Static } from "typebox";

export const EmailSchema = Type.String({
  minLength: 3,
  maxLength: 254,
  pattern: "^\\s*[^\\s@]+@[^\\s@]+\\s*$",
  description: "Email address; trimmed, NFC-normalised and lower-cased before use (RFC 5321 limit: 254)",
  examples: ["ada@example.com"],
});

export const PasswordSchema = Type.String({
  minLength: 1,
  maxLength: 4096,
  description: "Password; NFC-normalised, length counted in code points, checked against the policy",
});

export const UserIdSchema = Type.String({ format: "uuid", description: "User id" });

export const CreateUserBodySchema = Type.Object(
  {
    email: EmailSchema,
    password: PasswordSchema,
    name: Type.String({ minLength: 1, maxLength: 200, description: "Display name" }),
  },
  { additionalProperties: false, examples: [{ email: "ada@example.com", password: "correct horse battery staple", name: "Ada Lovelace" }] },
);
export type CreateUserBody = Static<typeof CreateUserBodySchema>;

export const UserSchema = Type.Object(
  {
    id: UserIdSchema,
    email: Type.String({ description: "Normalised email address" }),
    name: Type.String({ description: "Display name" }),
    createdAt: Type.String({ format: "date-time", description: "When the account was created (UTC)" }),
  },
  { additionalProperties: false, description: "A user account (no credential material, ever)" },
);
export type UserView = Static<typeof UserSchema>;

export const ChangePasswordBodySchema = Type.Object(
  {
    currentPassword: PasswordSchema,
    newPassword: PasswordSchema,
  },
  { additionalProperties: false, examples: [{ currentPassword: "correct horse battery staple", newPassword: "violet lantern orbit seventeen" }] },
);
export type ChangePasswordBody = Static<typeof ChangePasswordBodySchema>;
