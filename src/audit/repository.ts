// The audit log's table: the only writer of audit_events, and append-only here
// (no update or delete exists in this file).
import type { Db } from "../db/database.ts";
import type { Prisma } from "../generated/prisma/client.ts";

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
