// The event store: the only writer of audit_events (append-only here: no update
// or delete of it exists in this file) and of outbox_messages, the webhook
// outbox. Both tables are written by one file because an event's audit row and
// its outbox row are written by one statement (appendEvents, appendStatements).
import { randomUUID } from "node:crypto";
import type { Db, Sql } from "../db/database.ts";
import { Prisma } from "../generated/prisma/client.ts";

export type AuditFilter = Prisma.AuditEventWhereInput;

/** One audit_events row as it will be stored. */
export interface AuditRow {
  id: string;
  occurredAt: Date;
  type: string;
  actorType: string;
  actorId: string | null;
  subjectUserId: string | null;
  companyId: string | null;
  clientAddress: string | null;
  userAgent: string | null;
  requestId: string | null;
  details: Record<string, unknown>;
}

/** One outbox_messages row: the webhook-id and the exact body every attempt sends. */
export interface OutboxRow {
  id: string;
  type: string;
  body: string;
}

/** What a unit of work appends: audit rows and the outbox rows of the notified ones among them. */
export interface PendingEvents {
  audit: AuditRow[];
  outbox: OutboxRow[];
}

/** A leased outbox row: `attempts` counts this attempt, and is the lease's token. */
export interface LeasedMessage {
  id: string;
  type: string;
  body: string;
  attempts: number;
}

export interface OutboxListing {
  id: string;
  type: string;
  state: string;
  attempts: number;
  nextAttemptAt: Date;
  lastError: string | null;
  createdAt: Date;
}

export const newEventId = () => randomUUID();

const eventFields = {
  id: true, occurredAt: true, type: true, actorType: true, actorId: true, subjectUserId: true,
  companyId: true, clientAddress: true, userAgent: true, requestId: true, details: true,
} as const;

const outboxFields = { id: true, type: true, state: true, attempts: true, nextAttemptAt: true, lastError: true, createdAt: true } as const;

export function createAuditRepository(prisma: Db) {
  return {
    /**
     * The audit rows and outbox rows in ONE statement (a data-modifying CTE:
     * PostgreSQL runs each WITH part exactly once), so they are stored together
     * or not at all, and in a transaction they commit with the change around them.
     */
    async appendEvents(events: PendingEvents) {
      if (events.audit.length === 0 && events.outbox.length === 0) return;
      const audit = JSON.stringify(events.audit);
      const outbox = JSON.stringify(events.outbox);
      await prisma.$executeRaw`
        WITH audit AS (
          INSERT INTO audit_events (id, occurred_at, type, actor_type, actor_id, subject_user_id, company_id, client_address, user_agent, request_id, details)
          SELECT r."id", r."occurredAt", r."type", r."actorType", r."actorId", r."subjectUserId", r."companyId", r."clientAddress", r."userAgent", r."requestId", r."details"
          FROM jsonb_to_recordset(${audit}::jsonb) AS r("id" uuid, "occurredAt" timestamptz, "type" text, "actorType" text, "actorId" text,
            "subjectUserId" uuid, "companyId" uuid, "clientAddress" text, "userAgent" text, "requestId" text, "details" jsonb)
          RETURNING 1
        ), outbox AS (
          INSERT INTO outbox_messages (id, type, body)
          SELECT r."id", r."type", r."body" FROM jsonb_to_recordset(${outbox}::jsonb) AS r("id" uuid, "type" text, "body" text)
          RETURNING 1
        )
        SELECT (SELECT count(*) FROM audit) + (SELECT count(*) FROM outbox)`;
    },

    /**
     * The same append as CTE bodies for another feature's write (a sign-in's
     * session with its audit and outbox rows in one statement): the rows go in
     * only when `when` holds. Still the only SQL that writes these two tables.
     */
    appendStatements(events: PendingEvents, when: Sql): Sql[] {
      const statements: Sql[] = [];
      if (events.audit.length > 0) {
        statements.push(Prisma.sql`
          INSERT INTO audit_events (id, occurred_at, type, actor_type, actor_id, subject_user_id, company_id, client_address, user_agent, request_id, details)
          SELECT r."id", r."occurredAt", r."type", r."actorType", r."actorId", r."subjectUserId", r."companyId", r."clientAddress", r."userAgent", r."requestId", r."details"
          FROM jsonb_to_recordset(${JSON.stringify(events.audit)}::jsonb) AS r("id" uuid, "occurredAt" timestamptz, "type" text, "actorType" text, "actorId" text,
            "subjectUserId" uuid, "companyId" uuid, "clientAddress" text, "userAgent" text, "requestId" text, "details" jsonb)
          WHERE ${when}`);
      }
      if (events.outbox.length > 0) {
        statements.push(Prisma.sql`
          INSERT INTO outbox_messages (id, type, body)
          SELECT r."id", r."type", r."body" FROM jsonb_to_recordset(${JSON.stringify(events.outbox)}::jsonb) AS r("id" uuid, "type" text, "body" text)
          WHERE ${when}`);
      }
      return statements;
    },

    /** Newest first; `after` continues below the given (occurredAt, id), so pages stay stable under concurrent appends. */
    page(filters: AuditFilter[], after: { occurredAt: Date; id: string } | null, take: number) {
      return prisma.auditEvent.findMany({
        where: {
          AND: [
            ...filters,
            after ? { OR: [{ occurredAt: { lt: after.occurredAt } }, { occurredAt: after.occurredAt, id: { lt: after.id } }] } : {},
          ],
        },
        orderBy: [{ occurredAt: "desc" }, { id: "desc" }],
        take,
        select: eventFields,
      });
    },

    /**
     * Leases the oldest due pending row: one statement, so the row lock lasts
     * only as long as it. SKIP LOCKED lets concurrent workers (other instances)
     * pass over a row being leased instead of waiting for it or taking it too;
     * moving next_attempt_at forward by `leaseMs` makes the row not due while
     * it is delivered, and due again if this worker dies before recording the outcome.
     */
    async leaseDue(leaseMs: number): Promise<LeasedMessage | null> {
      const rows = await prisma.$queryRaw<LeasedMessage[]>`
        UPDATE outbox_messages SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => ${leaseMs / 1000}::float8)
        WHERE id = (
          SELECT id FROM outbox_messages WHERE state = 'pending' AND next_attempt_at <= now()
          ORDER BY next_attempt_at, created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING id, type, body, attempts`;
      return rows[0] ?? null;
    },

    /** A delivered row is deleted (its audit row stays); only the worker holding this lease (`attempts`) may. */
    async delivered(message: LeasedMessage) {
      await prisma.$executeRaw`DELETE FROM outbox_messages WHERE id = ${message.id}::uuid AND attempts = ${message.attempts} AND state = 'pending'`;
    },

    /** The next attempt after the back-off, stored in the row: it survives a restart. */
    async retryLater(message: LeasedMessage, delayMs: number, reason: string) {
      await prisma.$executeRaw`
        UPDATE outbox_messages SET next_attempt_at = now() + make_interval(secs => ${delayMs / 1000}::float8), last_error = ${reason}
        WHERE id = ${message.id}::uuid AND attempts = ${message.attempts} AND state = 'pending'`;
    },

    /** No attempt left (or refused by the receiver): kept as dead until an operator retries it. */
    async markDead(message: LeasedMessage, reason: string) {
      await prisma.$executeRaw`
        UPDATE outbox_messages SET state = 'dead', last_error = ${reason}
        WHERE id = ${message.id}::uuid AND attempts = ${message.attempts} AND state = 'pending'`;
    },

    /** A dead row back to pending, due now, with its attempts counted afresh; false when no dead row has this id. */
    async revive(id: string): Promise<boolean> {
      const updated = await prisma.$executeRaw`
        UPDATE outbox_messages SET state = 'pending', attempts = 0, next_attempt_at = now(), last_error = NULL
        WHERE id = ${id}::uuid AND state = 'dead'`;
      return updated === 1;
    },

    listOutbox(state: "pending" | "dead" | null, take = 100): Promise<OutboxListing[]> {
      return prisma.outboxMessage.findMany({
        where: state ? { state } : {}, orderBy: [{ createdAt: "asc" }, { id: "asc" }], take, select: outboxFields,
      });
    },

    async countOutbox(): Promise<{ pending: number; dead: number }> {
      const rows = await prisma.outboxMessage.groupBy({ by: ["state"], _count: { _all: true } });
      const count = (state: string) => rows.find((r) => r.state === state)?._count._all ?? 0;
      return { pending: count("pending"), dead: count("dead") };
    },
  };
}

export type AuditRepository = ReturnType<typeof createAuditRepository>;
