// The audit log: every security event, appended with UTC time, actor, subject,
// company, client address, user agent and request id (ASVS 16.2.1, 16.3.x).
// Callers pass only non-secret details; nothing here ever receives a code,
// token or password.
import type { Prisma as PrismaDb } from "../db/database.ts";
import type { Prisma } from "../generated/prisma/client.ts";
import type { Clock } from "../lib/clock.ts";
import type { RequestContextReader } from "./request-context.ts";

export interface AuditEventInput {
  type: string;
  subjectUserId?: string | null;
  companyId?: string | null;
  details?: Record<string, unknown>;
}

export interface AuditQuery {
  types?: string[];
  from?: Date;
  to?: Date;
  limit: number;
  cursor?: string;
}

type AuditRow = Prisma.AuditEventCreateManyInput;

const OFFICE_RELATION_EVENTS = ["client_added", "client_removed", "assignment_added", "assignment_removed"];

const eventFields = {
  id: true, occurredAt: true, type: true, actorType: true, actorId: true, subjectUserId: true,
  companyId: true, clientAddress: true, userAgent: true, requestId: true, details: true,
} as const;

function decodeCursor(cursor: string | undefined): { occurredAt: Date; id: string } | null {
  if (!cursor) return null;
  const [iso, id] = Buffer.from(cursor, "base64url").toString("utf8").split("|");
  const occurredAt = new Date(iso ?? "");
  return id && !Number.isNaN(occurredAt.getTime()) && /^[0-9a-f-]{36}$/.test(id) ? { occurredAt, id } : null;
}

const encodeCursor = (e: { occurredAt: Date; id: string }) => Buffer.from(`${e.occurredAt.toISOString()}|${e.id}`).toString("base64url");

export function createAuditLog(prisma: PrismaDb, context: RequestContextReader, clock: Clock) {
  /**
   * Within a request the row joins the request's batch, written in one insert
   * before the response leaves (flush, from the onSend hook); outside one it is
   * written at once. Either way it is stored before anyone hears of the outcome.
   */
  async function record(event: AuditEventInput) {
    const ctx = context.current();
    const actor = ctx.actor();
    const row: AuditRow = {
      occurredAt: clock.now(),
      type: event.type,
      actorType: actor.type,
      actorId: actor.id,
      subjectUserId: event.subjectUserId ?? null,
      companyId: event.companyId ?? null,
      clientAddress: ctx.clientAddress,
      userAgent: ctx.userAgent,
      requestId: ctx.requestId,
      details: (event.details ?? {}) as Prisma.InputJsonObject,
    };
    if (ctx.pendingAudit) ctx.pendingAudit.push(row);
    else await prisma.auditEvent.createMany({ data: [row] });
  }

  async function flush() {
    const pending = context.current().pendingAudit;
    if (!pending?.length) return;
    await prisma.auditEvent.createMany({ data: pending.splice(0) as AuditRow[] });
  }

  /** Newest first, keyset-paged (stable under concurrent appends). */
  async function list(scope: object, query: AuditQuery) {
    const after = decodeCursor(query.cursor);
    const rows = await prisma.auditEvent.findMany({
      where: {
        AND: [
          scope,
          query.types?.length ? { type: { in: query.types } } : {},
          query.from || query.to ? { occurredAt: { ...(query.from ? { gte: query.from } : {}), ...(query.to ? { lt: query.to } : {}) } } : {},
          after ? { OR: [{ occurredAt: { lt: after.occurredAt } }, { occurredAt: after.occurredAt, id: { lt: after.id } }] } : {},
        ],
      },
      orderBy: [{ occurredAt: "desc" }, { id: "desc" }],
      take: query.limit + 1,
      select: eventFields,
    });
    const page = rows.slice(0, query.limit);
    return { events: page, nextCursor: rows.length > query.limit ? encodeCursor(page.at(-1)!) : null };
  }

  return {
    record,
    flush,
    listForUser: (userId: string, query: AuditQuery) => list({ subjectUserId: userId }, query),
    /**
     * A company's own events, its members' personal events (sign-ins, factors:
     * those recorded for no company), and, for an office, the assignment and
     * client events that name it. An office sees its staff, not its clients'
     * people; a person in two companies does not carry one company's events into the other.
     */
    async listForCompany(companyId: string, query: AuditQuery) {
      const members = await prisma.membership.findMany({ where: { companyId }, select: { userId: true } });
      return list({
        OR: [
          { companyId },
          { companyId: null, subjectUserId: { in: members.map((m) => m.userId) } },
          { type: { in: OFFICE_RELATION_EVENTS }, details: { path: ["officeId"], equals: companyId } },
        ],
      }, query);
    },
  };
}

export type AuditLog = ReturnType<typeof createAuditLog>;
