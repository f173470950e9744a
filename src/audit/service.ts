// The audit log: every security event, appended with UTC time, actor, subject,
// company, client address, user agent and request id (ASVS 16.2.1, 16.3.x).
// Callers pass only non-secret details; nothing here ever receives a code,
// token or password.
import type { PendingWrites } from "../db/database.ts";
import type { Clock } from "../lib/clock.ts";
import type { AuditFilter, AuditRepository, AuditRow } from "./repository.ts";
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

const OFFICE_RELATION_EVENTS = ["client_added", "client_removed", "assignment_added", "assignment_removed"];

function decodeCursor(cursor: string | undefined): { occurredAt: Date; id: string } | null {
  if (!cursor) return null;
  const [iso, id] = Buffer.from(cursor, "base64url").toString("utf8").split("|");
  const occurredAt = new Date(iso ?? "");
  return id && !Number.isNaN(occurredAt.getTime()) && /^[0-9a-f-]{36}$/.test(id) ? { occurredAt, id } : null;
}

const encodeCursor = (e: { occurredAt: Date; id: string }) => Buffer.from(`${e.occurredAt.toISOString()}|${e.id}`).toString("base64url");

export function createAuditLog(deps: {
  events: AuditRepository;
  context: RequestContextReader;
  clock: Clock;
  /** The members of a company and since when (companies feature): its admins see their personal events from then on. */
  membersSince: (companyId: string) => Promise<{ userId: string; since: Date }[]>;
}) {
  const { events, context, clock } = deps;
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
      details: (event.details ?? {}) as AuditRow["details"],
    };
    if (ctx.pendingAudit) ctx.pendingAudit.push(row);
    else await events.append([row]);
  }

  /**
   * Writes the request's batch and closes it: work the request started that
   * ends after its response (a push delivery's outcome) is written at once.
   */
  async function flush() {
    const ctx = context.current();
    const pending = ctx.pendingAudit;
    ctx.pendingAudit = null;
    if (!pending?.length) return;
    await events.append(pending as AuditRow[]);
  }

  /**
   * The seam a hot path writes through: takes the request's pending rows out
   * of its batch, as statements for that path's own write (sessions/repository
   * create), so they cost no round trip of their own. `restore` hands them back
   * to the batch (the flush at onSend then writes them) if that write failed.
   */
  function takePendingWrites(): PendingWrites {
    const ctx = context.current();
    const rows = (ctx.pendingAudit?.splice(0) ?? []) as AuditRow[];
    return {
      statements: (when) => (rows.length > 0 ? [events.appendStatement(rows, when)] : []),
      restore: async () => { if (ctx.pendingAudit) ctx.pendingAudit.unshift(...rows); else await events.append(rows); },
    };
  }

  /** Newest first, keyset-paged (stable under concurrent appends). */
  async function list(scope: AuditFilter, query: AuditQuery) {
    const rows = await events.page([
      scope,
      query.types?.length ? { type: { in: query.types } } : {},
      query.from || query.to ? { occurredAt: { ...(query.from ? { gte: query.from } : {}), ...(query.to ? { lt: query.to } : {}) } } : {},
    ], decodeCursor(query.cursor), query.limit + 1);
    const page = rows.slice(0, query.limit);
    return { events: page, nextCursor: rows.length > query.limit ? encodeCursor(page.at(-1)!) : null };
  }

  return {
    record,
    flush,
    takePendingWrites,
    listForUser: (userId: string, query: AuditQuery) => list({ subjectUserId: userId }, query),
    /**
     * A company's own events, its members' personal events (sign-ins, factors:
     * those recorded for no company), and, for an office, the assignment and
     * client events that name it. An office sees its staff, not its clients'
     * people; a person in two companies does not carry one company's events into the other.
     */
    async listForCompany(companyId: string, query: AuditQuery) {
      // A person's personal events from before they joined are not the company's
      // to read: adding someone by id must not open their sign-in history.
      const members = await deps.membersSince(companyId);
      return list({
        OR: [
          { companyId },
          ...members.map((m) => ({ companyId: null, subjectUserId: m.userId, occurredAt: { gte: m.since } })),
          { type: { in: OFFICE_RELATION_EVENTS }, details: { path: ["officeId"], equals: companyId } },
        ],
      }, query);
    },
  };
}

export type AuditLog = ReturnType<typeof createAuditLog>;
