// Company routes. Who may call is decided per route: a service client with the
// scope, or a signed-in admin of the company named in the path. Ids come from
// the path and the token only, never from the body (ASVS 8.2.2), and an admin of
// one company is refused on any other company's id (tenant isolation).
import type { FastifyRequest } from "fastify";
import { Type } from "typebox";
import { problemResponsesFor } from "../http/problem.ts";
import { ref, withExample } from "../http/components.ts";
import { apiKeySecurity, bearerSecurity, type App } from "../http/app-type.ts";
import { API_KEY_HEADER } from "../http/guards.ts";
import type { AppGuards } from "../sessions/guards.ts";
import type { Scope } from "../clients/service.ts";
import type { CompanyService } from "./service.ts";
import {
  AssigneeParams, ClientParams, CompanyIdParams, CompanySchema, CreateCompanyBodySchema, ImpactSchema, MemberBodySchema,
  MemberParams, PolicyBodySchema, PolicySchema,
} from "./schemas.ts";

const either = [...apiKeySecurity, ...bearerSecurity];
const noContent = { 204: Type.Null({ description: "Done" }) };
// Who may call: a service client with the scope, or (where `either`) an admin of the company.
const SERVICE_CLIENT = ["INVALID_CLIENT", "INSUFFICIENT_SCOPE"] as const;
const SERVICE_OR_ADMIN = [...SERVICE_CLIENT, "UNAUTHENTICATED", "NOT_COMPANY_ADMIN"] as const;
const EXAMPLE_POLICY = { mandatoryTwoFactor: true, mandateSince: "2026-11-15T08:00:00.000Z", enrollmentDeadline: "2026-12-15T08:00:00.000Z", rememberDeviceDays: 7 };

export function registerCompanyRoutes(app: App, deps: {
  guards: AppGuards;
  companies: CompanyService;
}) {
  const { guards, companies } = deps;

  /** A service client with `scope`, or an admin of the company whose id `companyIdOf` reads from the path. */
  function serviceOrAdmin(scope: Scope, companyIdOf: (params: Record<string, string>) => string, options: { fresh?: boolean } = {}) {
    return async function authorize(request: FastifyRequest) {
      if (request.headers[API_KEY_HEADER] !== undefined) return guards.client(scope)(request);
      await guards.user(request);
      await companies.assertAdmin(companyIdOf(request.params as Record<string, string>), guards.principalOf(request), options);
    };
  }
  const byId = (p: Record<string, string>) => p.id!;
  const byOffice = (p: Record<string, string>) => p.officeId!;

  app.post("/v1/companies", {
    preHandler: guards.client("companies:write"),
    schema: {
      tags: ["Companies"], summary: "Create a company or accounting office", security: apiKeySecurity,
      body: CreateCompanyBodySchema,
      response: {
        201: withExample(ref(CompanySchema), "A new accounting office", { id: "4f7d8a52-0b6c-4e1f-9a3d-2c5e8b1a7f60", name: "Nordic Books AB", kind: "accounting_office", mandatoryTwoFactor: false, createdAt: "2026-11-02T10:00:00.000Z" }),
        ...problemResponsesFor(...SERVICE_CLIENT, "UNAVAILABLE"),
      },
    },
  }, async (request, reply) => {
    const c = await companies.create(request.body.name, request.body.kind);
    return reply.code(201).send({ id: c.id, name: c.name, kind: c.kind, mandatoryTwoFactor: c.mandatoryTwoFactor, createdAt: c.createdAt.toISOString() });
  });

  app.put("/v1/companies/:id/members/:userId", {
    preHandler: serviceOrAdmin("companies:write", byId),
    schema: {
      tags: ["Companies"], summary: "Add a member or change their role", security: either,
      params: MemberParams, body: MemberBodySchema, response: { ...noContent, ...problemResponsesFor(...SERVICE_OR_ADMIN, "NOT_FOUND", "UNAVAILABLE") },
    },
  }, async (request, reply) => {
    await companies.setMember(request.params.id, request.params.userId, request.body.role);
    return reply.code(204).send(null);
  });

  app.delete("/v1/companies/:id/members/:userId", {
    preHandler: serviceOrAdmin("companies:write", byId),
    schema: {
      tags: ["Companies"], summary: "Remove a member (and, for an office, their client assignments)", security: either,
      params: MemberParams, response: { ...noContent, ...problemResponsesFor(...SERVICE_OR_ADMIN, "NOT_FOUND", "UNAVAILABLE") },
    },
  }, async (request, reply) => {
    await companies.removeMember(request.params.id, request.params.userId);
    return reply.code(204).send(null);
  });

  app.put("/v1/companies/:officeId/clients/:clientId", {
    preHandler: guards.client("companies:write"),
    schema: {
      tags: ["Companies"], summary: "Let an accounting office serve a client company", security: apiKeySecurity,
      params: ClientParams, response: { ...noContent, ...problemResponsesFor(...SERVICE_CLIENT, "NOT_FOUND", "NOT_AN_ACCOUNTING_OFFICE", "INVALID_RELATION", "UNAVAILABLE") },
    },
  }, async (request, reply) => {
    await companies.addClient(request.params.officeId, request.params.clientId);
    return reply.code(204).send(null);
  });

  app.delete("/v1/companies/:officeId/clients/:clientId", {
    preHandler: guards.client("companies:write"),
    schema: {
      tags: ["Companies"], summary: "End an office-client relation (and its assignments)", security: apiKeySecurity,
      params: ClientParams, response: { ...noContent, ...problemResponsesFor(...SERVICE_CLIENT, "NOT_FOUND", "UNAVAILABLE") },
    },
  }, async (request, reply) => {
    await companies.removeClient(request.params.officeId, request.params.clientId);
    return reply.code(204).send(null);
  });

  app.put("/v1/companies/:officeId/clients/:clientId/assignees/:userId", {
    preHandler: serviceOrAdmin("companies:write", byOffice),
    schema: {
      tags: ["Companies"], summary: "Assign an office member to a client's assignments",
      description: "The client's mandatory 2SV then reaches this person.", security: either,
      params: AssigneeParams, response: { ...noContent, ...problemResponsesFor(...SERVICE_OR_ADMIN, "NOT_FOUND", "NOT_AN_ACCOUNTING_OFFICE", "NOT_AN_OFFICE_MEMBER", "UNAVAILABLE") },
    },
  }, async (request, reply) => {
    await companies.addAssignee(request.params.officeId, request.params.clientId, request.params.userId);
    return reply.code(204).send(null);
  });

  app.delete("/v1/companies/:officeId/clients/:clientId/assignees/:userId", {
    preHandler: serviceOrAdmin("companies:write", byOffice),
    schema: {
      tags: ["Companies"], summary: "Remove an office member from a client's assignments", security: either,
      params: AssigneeParams, response: { ...noContent, ...problemResponsesFor(...SERVICE_OR_ADMIN, "NOT_FOUND", "UNAVAILABLE") },
    },
  }, async (request, reply) => {
    await companies.removeAssignee(request.params.officeId, request.params.clientId, request.params.userId);
    return reply.code(204).send(null);
  });

  app.get("/v1/companies/:id/security-policy", {
    preHandler: serviceOrAdmin("companies:write", byId),
    schema: {
      tags: ["Companies"], summary: "Read the company's security policy", security: either,
      params: CompanyIdParams, response: { 200: withExample(ref(PolicySchema), "2SV mandatory, with a grace period", EXAMPLE_POLICY), ...problemResponsesFor(...SERVICE_OR_ADMIN, "NOT_FOUND", "UNAVAILABLE") },
    },
  }, async (request) => companies.getPolicy(request.params.id));

  app.put("/v1/companies/:id/security-policy", {
    preHandler: serviceOrAdmin("companies:write", byId, { fresh: true }),
    schema: {
      tags: ["Companies"], summary: "Set mandatory two-step verification for all users",
      description:
        "Reaches members and the office staff assigned to this company's assignments. Admins need a recent sign-in that passed the second step. " +
        "An optional grace deadline (at most 30 days ahead) lets affected people sign in until then. Audited with old and new value.",
      security: either, params: CompanyIdParams, body: PolicyBodySchema,
      response: {
        200: withExample(ref(PolicySchema), "2SV mandatory, with a grace period", EXAMPLE_POLICY),
        ...problemResponsesFor(...SERVICE_OR_ADMIN, "REAUTHENTICATION_REQUIRED", "SECOND_FACTOR_REQUIRED", "NOT_FOUND", "UNAVAILABLE"),
      },
    },
  }, async (request) => companies.setPolicy(request.params.id, request.body));

  app.get("/v1/companies/:id/security-policy/impact", {
    preHandler: serviceOrAdmin("companies:write", byId),
    schema: {
      tags: ["Companies"], summary: "Dry run: who a mandate reaches and who has no authenticator yet", security: either,
      params: CompanyIdParams,
      response: {
        200: withExample(ImpactSchema, "One person reached, without an authenticator", {
          companyId: "4f7d8a52-0b6c-4e1f-9a3d-2c5e8b1a7f60",
          people: [{ userId: "2c9a7f3e-1b4d-4e8a-9f6c-3d2e1a0b9c8d", email: "ada@example.com", name: "Ada Lovelace", via: "assignment", officeId: "8a7b6c5d-4e3f-4a2b-9c1d-0e9f8a7b6c5d", officeName: "Ledger & Co", hasFactor: false }],
          total: 1,
          withoutFactor: 1,
        }),
        ...problemResponsesFor(...SERVICE_OR_ADMIN, "NOT_FOUND", "UNAVAILABLE"),
      },
    },
  }, async (request) => companies.impact(request.params.id));
}
