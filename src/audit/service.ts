// The audit log: every security event, appended with UTC time, actor, subject,
// company, client address, user agent and request id (ASVS 16.2.1, 16.3.x).
// Callers pass only non-secret details; nothing here ever receives a code,
// token or password.
import type { Db, PendingWrites, UnitOfWorkHooks } from "../db/database.ts";
import type { Clock } from "../lib/clock.ts";
import { newEventId, type AuditFilter, type AuditRepository, type AuditRow, type OutboxRow, type PendingEvents } from "./repository.ts";
import { noPendingEvents, type RequestContextReader } from "./request-context.ts";

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

/** Drops from `list` the rows that were stored (by identity: rows added meanwhile stay). */
function removeTaken(list: PendingEvents, taken: PendingEvents) {
  const audit = new Set(taken.audit);
  const outbox = new Set(taken.outbox);
  list.audit = list.audit.filter((row) => !audit.has(row));
  list.outbox = list.outbox.filter((row) => !outbox.has(row));
}

const encodeCursor = (e: { occurredAt: Date; id: string }) => Buffer.from(`${e.occurredAt.toISOString()}|${e.id}`).toString("base64url");

export function createAuditLog(deps: {
  events: AuditRepository;
  /** The event store bound to a transaction's client (the unit of work writes its events there). */
  eventsOn: (db: Db) => AuditRepository;
  context: RequestContextReader;
  clock: Clock;
  /** The members of a company and since when (companies feature): its admins see their personal events from then on. */
  membersSince: (companyId: string) => Promise<{ userId: string; since: Date }[]>;
  /** Told after outbox rows were committed, so a worker delivers them now rather than at its next poll. */
  onOutboxStored?: () => void;
}) {
  const { events, context, clock } = deps;
  const stored = (written: PendingEvents) => { if (written.outbox.length > 0) deps.onOutboxStored?.(); };
  /** Requests whose outbox rows went into a hot path's statement (takePendingWrites): nudged at their flush. */
  const owesNudge = new WeakSet<object>();

  /**
   * Within a request or a unit of work the row (and its outbox row, for a
   * notified event) joins the pending list: a unit of work writes it in its
   * transaction, what is left is written in one statement before the response
   * leaves (flush, from the onSend hook). Outside both it is written at once.
   * Either way it is stored before anyone hears of the outcome.
   */
  async function record(event: AuditEventInput, outbox?: OutboxRow) {
    const ctx = context.current();
    const actor = ctx.actor();
    const row: AuditRow = {
      id: newEventId(),
      occurredAt: clock.now(),
      type: event.type,
      actorType: actor.type,
      actorId: actor.id,
      subjectUserId: event.subjectUserId ?? null,
      companyId: event.companyId ?? null,
      clientAddress: ctx.clientAddress,
      userAgent: ctx.userAgent,
      requestId: ctx.requestId,
      details: event.details ?? {},
    };
    if (ctx.pending) {
      ctx.pending.audit.push(row);
      if (outbox) ctx.pending.outbox.push(outbox);
      return;
    }
    const written = { audit: [row], outbox: outbox ? [outbox] : [] };
    await events.appendEvents(written);
    stored(written);
  }

  /**
   * Writes the request's pending events in one statement and closes the list:
   * work the request started that ends after its response (a push delivery's
   * outcome) is written at once.
   */
  async function flush() {
    const ctx = context.current();
    const pending = ctx.pending;
    ctx.pending = null;
    // Outbox rows a hot path took into its own statement were committed with it by now.
    if (owesNudge.delete(ctx)) deps.onOutboxStored?.();
    if (!pending) return;
    await events.appendEvents(pending);
    stored(pending);
  }

  /**
   * The seam a hot path writes through: takes the request's pending audit and
   * outbox rows out of its list, as statements for that path's own write
   * (sessions/repository create), so they cost no round trip of their own and
   * commit with it. `restore` hands them back (the flush at onSend then writes
   * them) if that write failed. The worker is nudged at the flush, after the
   * path's statement has committed.
   */
  function takePendingWrites(): PendingWrites {
    const ctx = context.current();
    const pending = ctx.pending;
    const taken: PendingEvents = pending ? { audit: pending.audit.splice(0), outbox: pending.outbox.splice(0) } : noPendingEvents();
    if (taken.outbox.length > 0) owesNudge.add(ctx);
    return {
      statements: (when) => events.appendStatements(taken, when),
      restore: async () => {
        owesNudge.delete(ctx);
        if (ctx.pending) {
          ctx.pending.audit.unshift(...taken.audit);
          ctx.pending.outbox.unshift(...taken.outbox);
          return;
        }
        await events.appendEvents(taken);
        stored(taken);
      },
    };
  }

  /**
   * The hooks of transactionOf (db/database.ts): a unit of work collects its
   * events apart, writes them and the request's pending ones inside its
   * transaction, and drops its own with a rollback.
   */
  const unitOfWork: UnitOfWorkHooks = {
    run: (work) => context.scoped(work),
    async beforeCommit(db) {
      const ctx = context.current();
      const own = ctx.pending ?? noPendingEvents();
      const outer = ctx.outer;
      const taken = {
        audit: [...(outer?.audit ?? []), ...own.audit],
        outbox: [...(outer?.outbox ?? []), ...own.outbox],
      };
      await deps.eventsOn(db).appendEvents(taken);
      return () => {
        if (outer) removeTaken(outer, taken);
        own.audit.length = 0;
        own.outbox.length = 0;
        stored(taken);
      };
    },
  };

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
    unitOfWork,
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
