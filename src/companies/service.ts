// Companies and accounting offices: memberships, client relations, assignments
// and the mandatory-2SV policy. Every change is an audit event with its actor.
import { AppError } from "../errors.ts";
import { passedSecondStep } from "../lib/amr.ts";
import type { Clock } from "../lib/clock.ts";
import type { EmitEvent } from "../audit/events.ts";
import type { Transaction } from "../db/database.ts";
import type { CompanyKind, CompanyRecord, CompanyRepository, Role } from "./repository.ts";

export const MAX_GRACE_DAYS = 30;

export interface PolicyInput {
  mandatoryTwoFactor: boolean;
  enrollmentDeadline?: string | null;
  rememberDeviceDays?: number | null;
}

/** A signed-in person as the admin check needs them. */
export interface PersonCaller {
  userId: string;
  amr: string[];
  authTime: Date;
}

export function createCompanyService(deps: {
  companies: CompanyRepository;
  userExists: (id: string) => Promise<boolean>;
  emit: EmitEvent;
  /** A change and the notifications it owes commit together (audit + outbox). */
  transaction: Transaction<{ companies: Pick<CompanyRepository, "setMember" | "addAssignee" | "updatePolicy"> }>;
  clock: Clock;
  /** How recent an admin's sign-in must be to change the policy. */
  maxAdminAuthAgeSeconds: number;
}) {
  const { companies, emit } = deps;

  async function existing(id: string): Promise<CompanyRecord> {
    const company = await companies.find(id);
    if (!company) throw new AppError("NOT_FOUND", { detail: "No such company." });
    return company;
  }

  async function existingUser(id: string) {
    if (!(await deps.userExists(id))) throw new AppError("NOT_FOUND", { detail: "No such user." });
  }

  const isAdmin = async (companyId: string, userId: string) => (await companies.role(companyId, userId)) === "admin";

  /**
   * An admin of this company; for a sensitive change (the policy) also a recent
   * sign-in that passed the second step (checklist CP-04). An admin of one
   * company is refused on any other company's id (tenant isolation).
   */
  async function assertAdmin(companyId: string, person: PersonCaller, options: { fresh?: boolean } = {}) {
    if (!(await isAdmin(companyId, person.userId))) throw new AppError("NOT_COMPANY_ADMIN");
    if (!options.fresh) return;
    if (!passedSecondStep(person.amr)) throw new AppError("SECOND_FACTOR_REQUIRED");
    if (deps.clock.now().getTime() - person.authTime.getTime() > deps.maxAdminAuthAgeSeconds * 1000) throw new AppError("REAUTHENTICATION_REQUIRED");
  }

  async function create(name: string, kind: CompanyKind) {
    const company = await companies.create(name.trim(), kind);
    await emit("company_created", null, { kind }, company.id);
    return company;
  }

  async function setMember(companyId: string, userId: string, role: Role) {
    await existing(companyId);
    await existingUser(userId);
    const previousRole = await companies.role(companyId, userId);
    await deps.transaction(async (tx) => {
      await tx.companies.setMember(companyId, userId, role);
      await emit("membership_set", userId, { role, previousRole }, companyId);
    });
  }

  /** Relation removals cascade in the database; the assignments they take are audited too. */
  async function auditCascadedAssignments(assignments: { officeId: string; clientId: string; userId: string }[]) {
    for (const a of assignments) await emit("assignment_removed", a.userId, { officeId: a.officeId, clientId: a.clientId, cascaded: true }, a.clientId);
  }

  async function removeMember(companyId: string, userId: string) {
    const implied = await companies.assignmentsOf({ officeId: companyId, userId });
    if (!(await companies.removeMember(companyId, userId))) throw new AppError("NOT_FOUND", { detail: "Not a member." });
    await emit("membership_removed", userId, {}, companyId);
    await auditCascadedAssignments(implied);
  }

  async function addClient(officeId: string, clientId: string) {
    if (officeId === clientId) throw new AppError("INVALID_RELATION");
    const office = await existing(officeId);
    await existing(clientId);
    if (office.kind !== "accounting_office") throw new AppError("NOT_AN_ACCOUNTING_OFFICE");
    await companies.addClient(officeId, clientId);
    await emit("client_added", null, { officeId, clientId }, clientId);
  }

  async function removeClient(officeId: string, clientId: string) {
    const implied = await companies.assignmentsOf({ officeId, clientId });
    if (!(await companies.removeClient(officeId, clientId))) throw new AppError("NOT_FOUND", { detail: "The office does not serve this client." });
    await emit("client_removed", null, { officeId, clientId }, clientId);
    await auditCascadedAssignments(implied);
  }

  async function addAssignee(officeId: string, clientId: string, userId: string) {
    if (!(await companies.hasClient(officeId, clientId))) throw new AppError("NOT_FOUND", { detail: "The office does not serve this client." });
    if (!(await companies.role(officeId, userId))) throw new AppError("NOT_AN_OFFICE_MEMBER");
    await deps.transaction(async (tx) => {
      await tx.companies.addAssignee(officeId, clientId, userId);
      await emit("assignment_added", userId, { officeId, clientId }, clientId);
    });
  }

  async function removeAssignee(officeId: string, clientId: string, userId: string) {
    if (!(await companies.removeAssignee(officeId, clientId, userId))) throw new AppError("NOT_FOUND", { detail: "Not assigned." });
    await emit("assignment_removed", userId, { officeId, clientId }, clientId);
  }

  function policyView(company: CompanyRecord) {
    return {
      mandatoryTwoFactor: company.mandatoryTwoFactor,
      mandateSince: company.mandateSince?.toISOString() ?? null,
      enrollmentDeadline: company.enrollmentDeadline?.toISOString() ?? null,
      rememberDeviceDays: company.trustedDeviceDays,
    };
  }

  async function getPolicy(companyId: string) {
    return policyView(await existing(companyId));
  }

  /** A grace deadline must lie ahead, and not too far: a mandate that never bites is none (checklist CP-05). */
  function checkDeadline(input: PolicyInput) {
    if (!input.enrollmentDeadline) return;
    const left = new Date(input.enrollmentDeadline).getTime() - deps.clock.now().getTime();
    if (left <= 0 || left > MAX_GRACE_DAYS * 86_400_000) {
      throw new AppError("VALIDATION_FAILED", { detail: `enrollmentDeadline must be in the future and at most ${MAX_GRACE_DAYS} days ahead.` });
    }
  }

  async function setPolicy(companyId: string, input: PolicyInput) {
    checkDeadline(input);
    const before = await existing(companyId);
    const turningOn = input.mandatoryTwoFactor && !before.mandatoryTwoFactor;
    // Read before the unit of work: inside it only its own repositories may be used (PGlite has one connection).
    const toTell = turningOn ? await affectedWithoutFactor(companyId) : new Map<string, string[]>();
    const after = await deps.transaction(async (tx) => {
      const updated = await tx.companies.updatePolicy(companyId, {
        mandatoryTwoFactor: input.mandatoryTwoFactor,
        mandateSince: input.mandatoryTwoFactor ? (turningOn ? deps.clock.now() : before.mandateSince) : null,
        enrollmentDeadline: input.mandatoryTwoFactor && input.enrollmentDeadline ? new Date(input.enrollmentDeadline) : null,
        trustedDeviceDays: input.rememberDeviceDays === undefined ? before.trustedDeviceDays : input.rememberDeviceDays,
      });
      await emit("policy_changed", null, { old: policyView(before), new: policyView(updated) }, companyId);
      // "Next time the users log in, they must activate two-step verification": told with the change.
      for (const [userId, via] of toTell) await emit("policy_requires_enrollment", userId, { via }, companyId);
      return updated;
    });
    return policyView(after);
  }

  /** Who a new mandate reaches without an authenticator, with how it reaches them. */
  async function affectedWithoutFactor(companyId: string) {
    const { people } = await impact(companyId);
    const viaByPerson = new Map<string, string[]>();
    for (const p of people.filter((p) => !p.hasFactor)) viaByPerson.set(p.userId, [...(viaByPerson.get(p.userId) ?? []), p.via]);
    return viaByPerson;
  }

  /** Dry run: who a mandate of this company reaches, and who has no authenticator yet. */
  async function impact(companyId: string) {
    await existing(companyId);
    const { members, assignees } = await companies.reach(companyId);
    const people = [
      ...members.map((m) => ({ userId: m.user.id, email: m.user.email, name: m.user.name, via: "membership" as const, officeId: null, officeName: null, hasFactor: m.user.totpFactors.length + m.user.pushAuthenticators.length > 0 })),
      ...assignees.map((a) => ({
        userId: a.membership.user.id, email: a.membership.user.email, name: a.membership.user.name, via: "assignment" as const,
        officeId: a.officeId, officeName: a.relation.office.name, hasFactor: a.membership.user.totpFactors.length + a.membership.user.pushAuthenticators.length > 0,
      })),
    ];
    return { companyId, people, total: people.length, withoutFactor: people.filter((p) => !p.hasFactor).length };
  }

  return {
    create, setMember, removeMember, addClient, removeClient, addAssignee, removeAssignee, getPolicy, setPolicy, impact,
    isAdmin, assertAdmin,
  };
}

export type CompanyService = ReturnType<typeof createCompanyService>;
