// The audit log's table: the only writer of audit_events, and append-only here
// (no update or delete exists in this file).
import { randomUUID } from "node:crypto";
import type { Db, Sql } from "../db/database.ts";
import { Prisma } from "../generated/prisma/client.ts";

export type AuditRow = Prisma.AuditEventCreateManyInput;
export type AuditFilter = Prisma.AuditEventWhereInput;

const eventFields = {
  id: true, occurredAt: true, type: true, actorType: true, actorId: true, subjectUserId: true,
  companyId: true, clientAddress: true, userAgent: true, requestId: true, details: true,
} as const;

export function createAuditRepository(prisma: Db) {
  return {
    async append(rows: AuditRow[]) {
      if (rows.length > 0) await prisma.auditEvent.createMany({ data: rows });
    },

    /**
     * The same append as one CTE body for another feature's write (a sign-in's
     * session and its audit rows in one statement): the rows go in only when
     * `when` holds. Still the only SQL that writes audit_events.
     */
    appendStatement(rows: AuditRow[], when: Sql): Sql {
      const records = rows.map((row) => ({
        id: randomUUID(), occurred_at: new Date(row.occurredAt ?? Date.now()).toISOString(), type: row.type, actor_type: row.actorType,
        actor_id: row.actorId ?? null, subject_user_id: row.subjectUserId ?? null, company_id: row.companyId ?? null,
        client_address: row.clientAddress ?? null, user_agent: row.userAgent ?? null, request_id: row.requestId ?? null, details: row.details ?? {},
      }));
      return Prisma.sql`
        INSERT INTO audit_events (id, occurred_at, type, actor_type, actor_id, subject_user_id, company_id, client_address, user_agent, request_id, details)
        SELECT x.id, x.occurred_at, x.type, x.actor_type, x.actor_id, x.subject_user_id, x.company_id, x.client_address, x.user_agent, x.request_id, x.details
        FROM jsonb_to_recordset(${JSON.stringify(records)}::jsonb) AS x(
          id uuid, occurred_at timestamptz, type text, actor_type text, actor_id text, subject_user_id uuid, company_id uuid,
          client_address text, user_agent text, request_id text, details jsonb)
        WHERE ${when}`;
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
  };
}

export type AuditRepository = ReturnType<typeof createAuditRepository>;
