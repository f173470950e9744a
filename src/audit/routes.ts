import { Type, type Static } from "typebox";
import { AppError } from "../errors.ts";
import { problemResponsesFor } from "../http/problem.ts";
import { component, ref, withExample } from "../http/components.ts";
import { bearerSecurity, type App } from "../http/app-type.ts";
import type { AppGuards } from "../sessions/guards.ts";
import type { AuditLog, AuditQuery } from "./service.ts";

const AuditQuerySchema = Type.Object(
  {
    type: Type.Optional(Type.String({ pattern: "^[a-z_]+(,[a-z_]+)*$", maxLength: 500, description: "Comma-separated event types to include" })),
    from: Type.Optional(Type.String({ format: "date-time", description: "Only events at or after this time (UTC)" })),
    to: Type.Optional(Type.String({ format: "date-time", description: "Only events before this time (UTC)" })),
    limit: Type.Optional(Type.String({ pattern: "^([1-9]|[1-9][0-9]|100)$", description: "Page size, 1-100 (default 50)" })),
    cursor: Type.Optional(Type.String({ maxLength: 200, description: "nextCursor of the previous page" })),
  },
  { additionalProperties: false },
);

const AuditEventSchema = component("AuditEvent", Type.Object(
  {
    id: Type.String({ format: "uuid", description: "Event id" }),
    occurredAt: Type.String({ format: "date-time", description: "When it happened (UTC)" }),
    type: Type.String({ description: "Event type, e.g. authn_login_success, mfa_verify_fail, policy_changed" }),
    actorType: Type.String({ description: "user, service, anonymous or system" }),
    actorId: Type.Union([Type.String(), Type.Null()], { description: "The acting user or service client" }),
    subjectUserId: Type.Union([Type.String(), Type.Null()], { description: "The person the event is about" }),
    companyId: Type.Union([Type.String(), Type.Null()], { description: "The company it concerns" }),
    clientAddress: Type.Union([Type.String(), Type.Null()], { description: "Client address of the request" }),
    userAgent: Type.Union([Type.String(), Type.Null()], { description: "User agent of the request" }),
    requestId: Type.Union([Type.String(), Type.Null()], { description: "Request id (x-request-id)" }),
    details: Type.Record(Type.String(), Type.Unknown(), { description: "Event-specific, never secret, details" }),
  },
  { additionalProperties: false, description: "A security event" },
));

const AuditPageSchema = component("AuditEventPage", Type.Object(
  {
    events: Type.Array(ref(AuditEventSchema), { description: "Newest first" }),
    nextCursor: Type.Union([Type.String(), Type.Null()], { description: "Pass as cursor for the next page; null at the end" }),
  },
  { additionalProperties: false, description: "A page of security events" },
));

const auditPageExample = withExample(ref(AuditPageSchema), "A page of one event, more to come", {
  events: [{
    id: "e7d6c5b4-a392-4810-9f8e-7d6c5b4a3928", occurredAt: "2026-12-01T08:31:05.000Z", type: "authn_login_success", actorType: "user",
    actorId: "2c9a7f3e-1b4d-4e8a-9f6c-3d2e1a0b9c8d", subjectUserId: "2c9a7f3e-1b4d-4e8a-9f6c-3d2e1a0b9c8d", companyId: null,
    clientAddress: "203.0.113.7", userAgent: "Mozilla/5.0 (Macintosh) Firefox/133.0", requestId: "5b0e6a0c-8d1e-4a57-9c1f-3f1b2a7d9e10", details: { amr: ["pwd", "otp", "mfa"] },
  }],
  nextCursor: "MjAyNi0xMi0wMVQwODozMTowNS4wMDBa",
});

function toQuery(q: Static<typeof AuditQuerySchema>): AuditQuery {
  return {
    types: q.type?.split(","),
    from: q.from ? new Date(q.from) : undefined,
    to: q.to ? new Date(q.to) : undefined,
    limit: q.limit ? Number(q.limit) : 50,
    cursor: q.cursor,
  };
}

type EventRow = Awaited<ReturnType<AuditLog["listForUser"]>>["events"][number];
const toView = (e: EventRow) => ({ ...e, occurredAt: e.occurredAt.toISOString(), details: e.details as Record<string, unknown> });

export function registerAuditRoutes(app: App, deps: {
  guards: AppGuards;
  audit: AuditLog;
  /** Whether the person is an admin of the company (companies feature). */
  isAdmin: (companyId: string, userId: string) => Promise<boolean>;
}) {
  app.get("/v1/me/audit-events", {
    preHandler: deps.guards.user,
    schema: {
      tags: ["Me"], summary: "The signed-in person's own security events", security: bearerSecurity,
      querystring: AuditQuerySchema, response: { 200: auditPageExample, ...problemResponsesFor("UNAUTHENTICATED", "UNAVAILABLE") },
    },
  }, async (request) => {
    const page = await deps.audit.listForUser(deps.guards.principalOf(request).userId, toQuery(request.query));
    return { events: page.events.map(toView), nextCursor: page.nextCursor };
  });

  app.get("/v1/companies/:id/audit-events", {
    preHandler: deps.guards.user,
    schema: {
      tags: ["Companies"], summary: "Security events of the company and its users (company admins)",
      description: "An accounting office's admins see their own staff's events, not those of their clients' other users.",
      security: bearerSecurity,
      params: Type.Object({ id: Type.String({ format: "uuid", description: "Company id" }) }, { additionalProperties: false }),
      querystring: AuditQuerySchema, response: { 200: auditPageExample, ...problemResponsesFor("UNAUTHENTICATED", "NOT_COMPANY_ADMIN", "UNAVAILABLE") },
    },
  }, async (request) => {
    if (!(await deps.isAdmin(request.params.id, deps.guards.principalOf(request).userId))) throw new AppError("NOT_COMPANY_ADMIN");
    const page = await deps.audit.listForCompany(request.params.id, toQuery(request.query));
    return { events: page.events.map(toView), nextCursor: page.nextCursor };
  });
}
