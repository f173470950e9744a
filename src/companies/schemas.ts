import { Type, type Static } from "typebox";
import { component, ref } from "../http/components.ts";

const Uuid = (description: string) => Type.String({ format: "uuid", description });

export const CompanyIdParams = Type.Object({ id: Uuid("Company id") }, { additionalProperties: false });
export const MemberParams = Type.Object({ id: Uuid("Company id"), userId: Uuid("User id") }, { additionalProperties: false });
export const ClientParams = Type.Object({ officeId: Uuid("Accounting office id"), clientId: Uuid("Client company id") }, { additionalProperties: false });
export const AssigneeParams = Type.Object(
  { officeId: Uuid("Accounting office id"), clientId: Uuid("Client company id"), userId: Uuid("Office member's user id") },
  { additionalProperties: false },
);

export const CompanyKindSchema = component("CompanyKind", Type.Union([Type.Literal("company"), Type.Literal("accounting_office")], {
  description: "company, or accounting_office (serves client companies)",
}));

export const CreateCompanyBodySchema = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 200, description: "Company name" }), kind: ref(CompanyKindSchema) },
  { additionalProperties: false, examples: [{ name: "Nordic Books AB", kind: "accounting_office" }] },
);

export const CompanySchema = component("Company", Type.Object(
  {
    id: Uuid("Company id"),
    name: Type.String({ description: "Company name" }),
    kind: ref(CompanyKindSchema),
    mandatoryTwoFactor: Type.Boolean({ description: "Whether 2SV is mandatory for its users" }),
    createdAt: Type.String({ format: "date-time", description: "When it was created" }),
  },
  { additionalProperties: false, description: "A company" },
));

export const MemberBodySchema = Type.Object(
  { role: Type.Union([Type.Literal("admin"), Type.Literal("user")], { description: "admin manages members, policy and audit; user works in the company" }) },
  { additionalProperties: false, examples: [{ role: "admin" }] },
);

export const PolicySchema = component("SecurityPolicy", Type.Object(
  {
    mandatoryTwoFactor: Type.Boolean({ description: "Mandatory two-step verification for all users: members and office assignees" }),
    mandateSince: Type.Union([Type.String({ format: "date-time" }), Type.Null()], { description: "When the current mandate began" }),
    enrollmentDeadline: Type.Union([Type.String({ format: "date-time" }), Type.Null()], {
      description: "Optional grace: until then affected users without a factor may still sign in; null enforces at once",
    }),
    rememberDeviceDays: Type.Union([Type.Integer({ minimum: 0, maximum: 30 }), Type.Null()], {
      description: "\"Remember this device\" for the people this company reaches: null = the service's period (30 days), 0 = off, else at most this many days",
    }),
  },
  { additionalProperties: false, description: "The company's security policy" },
));

export const PolicyBodySchema = Type.Object(
  {
    mandatoryTwoFactor: Type.Boolean({ description: "Make two-step verification mandatory" }),
    enrollmentDeadline: Type.Optional(Type.Union([Type.String({ format: "date-time" }), Type.Null()], {
      description: "Optional grace deadline (default: none, enforced at the next sign-in)",
    })),
    rememberDeviceDays: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 30 }), Type.Null()], {
      description: "Shorten \"remember this device\" for the people this company reaches (0 turns it off; null: the service's 30 days). " +
        "The strictest company that reaches a person wins, checked whenever a device token is used. Omitted: unchanged",
    })),
  },
  { additionalProperties: false, examples: [{ mandatoryTwoFactor: true, enrollmentDeadline: "2026-12-31T00:00:00.000Z", rememberDeviceDays: 7 }] },
);

/** How a company's policy reaches a person. */
export const ReachSchema = component("Reach", Type.Union([Type.Literal("membership"), Type.Literal("assignment")], {
  description: "membership: the person is a member; assignment: the person works on that client's assignments for an accounting office",
}));

export const ImpactSchema = Type.Object(
  {
    companyId: Uuid("Company id"),
    people: Type.Array(
      Type.Object(
        {
          userId: Uuid("User id"),
          email: Type.String({ description: "Email" }),
          name: Type.String({ description: "Name" }),
          via: ref(ReachSchema, { description: "Reached as a member or as an office assignee" }),
          officeId: Type.Union([Type.String({ format: "uuid" }), Type.Null()], { description: "The office of an assignee" }),
          officeName: Type.Union([Type.String(), Type.Null()], { description: "Its name" }),
          hasFactor: Type.Boolean({ description: "Whether the person has an authenticator set up already" }),
        },
        { additionalProperties: false },
      ),
      { description: "Everyone a mandate of this company reaches" },
    ),
    total: Type.Integer({ description: "How many people it reaches" }),
    withoutFactor: Type.Integer({ description: "How many of them must still enroll" }),
  },
  { additionalProperties: false, description: "Dry run of a mandate" },
);

/** A company policy that mandates 2SV for a person, and how it reaches them. */
export const RequirementSourceSchema = component("RequirementSource", Type.Object(
  {
    companyId: Type.String({ format: "uuid", description: "The company whose policy mandates 2SV" }),
    companyName: Type.String({ description: "Its name" }),
    via: ref(ReachSchema),
  },
  { additionalProperties: false, description: "A company policy that mandates two-step verification for the person" },
));
export type RequirementSource = Static<typeof RequirementSourceSchema>;
