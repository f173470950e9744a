// Companies, memberships, office-client relations and assignments. Removing a
// relation removes what it implied: the database cascades assignments when an
// office-client relation or an office membership goes (schema.prisma).
import type { Db } from "../db/database.ts";
import type { Clock } from "../lib/clock.ts";

export type CompanyKind = "company" | "accounting_office";
export type Role = "admin" | "user";

export interface CompanyRecord {
  id: string;
  name: string;
  kind: CompanyKind;
  mandatoryTwoFactor: boolean;
  mandateSince: Date | null;
  enrollmentDeadline: Date | null;
  trustedDeviceDays: number | null;
  createdAt: Date;
}

const companyFields = {
  id: true, name: true, kind: true, mandatoryTwoFactor: true, mandateSince: true, enrollmentDeadline: true, trustedDeviceDays: true, createdAt: true,
} as const;

/** One company whose mandate reaches a user, and since when it does. */
export interface MandateSource {
  company: CompanyRecord;
  via: "membership" | "assignment";
  appliesSince: Date;
}

const later = (a: Date | null, b: Date) => (a && a > b ? a : b);

// Dates that the policy compares with trusted devices come from the app's clock,
// like the devices' own, never from the database's default.
export function createCompanyRepository(prisma: Db, clock: Clock) {
  return {
    create: (name: string, kind: CompanyKind) => prisma.company.create({ data: { name, kind, createdAt: clock.now() }, select: companyFields }) as Promise<CompanyRecord>,
    find: (id: string) => prisma.company.findUnique({ where: { id }, select: companyFields }) as Promise<CompanyRecord | null>,

    role: async (companyId: string, userId: string): Promise<Role | null> =>
      ((await prisma.membership.findUnique({ where: { companyId_userId: { companyId, userId } }, select: { role: true } }))?.role as Role) ?? null,

    setMember: (companyId: string, userId: string, role: Role) =>
      prisma.membership.upsert({ where: { companyId_userId: { companyId, userId } }, create: { companyId, userId, role, createdAt: clock.now() }, update: { role } }),

    async removeMember(companyId: string, userId: string): Promise<boolean> {
      return (await prisma.membership.deleteMany({ where: { companyId, userId } })).count === 1;
    },

    addClient: (officeId: string, clientId: string) =>
      prisma.officeClient.upsert({ where: { officeId_clientId: { officeId, clientId } }, create: { officeId, clientId, createdAt: clock.now() }, update: {} }),

    async removeClient(officeId: string, clientId: string): Promise<boolean> {
      return (await prisma.officeClient.deleteMany({ where: { officeId, clientId } })).count === 1;
    },

    async hasClient(officeId: string, clientId: string): Promise<boolean> {
      return (await prisma.officeClient.count({ where: { officeId, clientId } })) === 1;
    },

    addAssignee: (officeId: string, clientId: string, userId: string) =>
      prisma.assignment.upsert({
        where: { officeId_clientId_userId: { officeId, clientId, userId } },
        create: { officeId, clientId, userId, createdAt: clock.now() },
        update: {},
      }),

    async removeAssignee(officeId: string, clientId: string, userId: string): Promise<boolean> {
      return (await prisma.assignment.deleteMany({ where: { officeId, clientId, userId } })).count === 1;
    },

    updatePolicy: (id: string, data: { mandatoryTwoFactor: boolean; mandateSince: Date | null; enrollmentDeadline: Date | null; trustedDeviceDays: number | null }) =>
      prisma.company.update({ where: { id }, data, select: companyFields }) as Promise<CompanyRecord>,

    /** Every mandating company that reaches the user: as a member, or as an office assignee of a client. */
    async mandateSources(userId: string): Promise<MandateSource[]> {
      const [memberships, assignments] = await Promise.all([
        prisma.membership.findMany({
          where: { userId, company: { mandatoryTwoFactor: true } },
          select: { createdAt: true, company: { select: companyFields } },
        }),
        prisma.assignment.findMany({
          where: { userId, relation: { client: { mandatoryTwoFactor: true } } },
          select: { createdAt: true, relation: { select: { client: { select: companyFields } } } },
        }),
      ]);
      return [
        ...memberships.map((m) => ({ company: m.company as CompanyRecord, via: "membership" as const, appliesSince: later(m.company.mandateSince, m.createdAt) })),
        ...assignments.map((a) => ({
          company: a.relation.client as CompanyRecord,
          via: "assignment" as const,
          appliesSince: later(a.relation.client.mandateSince, a.createdAt),
        })),
      ];
    },

    /** The shortest "remember this device" period of the companies that reach the user (member or assignee), or null when none sets one. */
    async deviceTrustLimit(userId: string): Promise<number | null> {
      const [members, assigned] = await Promise.all([
        prisma.company.aggregate({ _min: { trustedDeviceDays: true }, where: { members: { some: { userId } } } }),
        prisma.company.aggregate({ _min: { trustedDeviceDays: true }, where: { offices: { some: { assignments: { some: { userId } } } } } }),
      ]);
      const limits = [members._min.trustedDeviceDays, assigned._min.trustedDeviceDays].filter((d): d is number => d !== null);
      return limits.length ? Math.min(...limits) : null;
    },

    /** Who a mandate of this company reaches, and whether each already has a second factor. */
    async reach(companyId: string) {
      const person = { select: { id: true, email: true, name: true, totpFactors: { where: { status: "active" }, select: { id: true } },
        pushAuthenticators: { where: { status: "active" }, select: { id: true } } } } as const;
      const [members, assignees] = await Promise.all([
        prisma.membership.findMany({ where: { companyId }, select: { role: true, user: person }, orderBy: { createdAt: "asc" } }),
        prisma.assignment.findMany({
          where: { clientId: companyId },
          select: { officeId: true, relation: { select: { office: { select: { name: true } } } }, membership: { select: { user: person } } },
          orderBy: { createdAt: "asc" },
        }),
      ]);
      return { members, assignees };
    },

    /** Assignments that removing a relation or a membership will take with it. */
    assignmentsOf: (where: { officeId: string; clientId?: string; userId?: string }) =>
      prisma.assignment.findMany({ where, select: { officeId: true, clientId: true, userId: true } }),

    /** Each member and since when (the membership's creation; a role change keeps it). */
    membersSince: async (companyId: string) =>
      (await prisma.membership.findMany({ where: { companyId }, select: { userId: true, createdAt: true } })).map((m) => ({ userId: m.userId, since: m.createdAt })),

    /** Names of the companies a user is a member of or assigned to: words their password must not be (ASVS 5.0 6.2.11). */
    companyNamesOf: async (userId: string) =>
      (await prisma.company.findMany({
        where: { OR: [{ members: { some: { userId } } }, { offices: { some: { assignments: { some: { userId } } } } }] },
        select: { name: true },
      })).map((c) => c.name),
  };
}

export type CompanyRepository = ReturnType<typeof createCompanyRepository>;
