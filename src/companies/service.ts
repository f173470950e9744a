// Companies and accounting offices: memberships, client relations, assignments
// and the mandatory-2SV policy. Every change is an audit event with its actor.
import { AppError } from "../errors.ts";
import type { Clock } from "../lib/clock.ts";
import type { EmitEvent } from "../audit/events.ts";
import type { CompanyKind, CompanyRecord, CompanyRepository, Role } from "./repository.ts";

export interface PolicyInput {
  mandatoryTwoFactor: boolean;
  enrollmentDeadline?: string | null;
}

export function createCompanyService(deps: {
  companies: CompanyRepository;
  userExists: (id: string) => Promise<boolean>;
  emit: EmitEvent;
  clock: Clock;
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

  async function create(name: string, kind: CompanyKind) {
    const company = await companies.create(name.trim(), kind);
    await emit("company_created", null, { kind }, company.id);
    return company;
  }

  async function setMember(companyId: string, userId: string, role: Role) {
    await existing(companyId);
    await existingUser(userId);
    const previousRole = await companies.role(companyId, userId);
    await companies.setMember(companyId, userId, role);
    await emit("membership_set", userId, { role, previousRole }, companyId);
  }

  async function removeMember(companyId: string, userId: string) {
    if (!(await companies.removeMember(companyId, userId))) throw new AppError("NOT_FOUND", { detail: "Not a member." });
    await emit("membership_removed", userId, {}, companyId);
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
    if (!(await companies.removeClient(officeId, clientId))) throw new AppError("NOT_FOUND", { detail: "The office does not serve this client." });
    await emit("client_removed", null, { officeId, clientId }, clientId);
  }

  async function addAssignee(officeId: string, clientId: string, userId: string) {
    if (!(await companies.hasClient(officeId, clientId))) throw new AppError("NOT_FOUND", { detail: "The office does not serve this client." });
    if (!(await companies.role(officeId, userId))) throw new AppError("NOT_AN_OFFICE_MEMBER");
    await companies.addAssignee(officeId, clientId, userId);
    await emit("assignment_added", userId, { officeId, clientId }, clientId);
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
    };
  }

  async function getPolicy(companyId: string) {
    return policyView(await existing(companyId));
  }

  async function setPolicy(companyId: string, input: PolicyInput) {
    const before = await existing(companyId);
    const turningOn = input.mandatoryTwoFactor && !before.mandatoryTwoFactor;
    const after = await companies.updatePolicy(companyId, {
      mandatoryTwoFactor: input.mandatoryTwoFactor,
      mandateSince: input.mandatoryTwoFactor ? (turningOn ? deps.clock.now() : before.mandateSince) : null,
      enrollmentDeadline: input.mandatoryTwoFactor && input.enrollmentDeadline ? new Date(input.enrollmentDeadline) : null,
    });
    await emit("policy_changed", null, { old: policyView(before), new: policyView(after) }, companyId);
    if (turningOn) await tellAffectedWithoutFactor(companyId);
    return policyView(after);
  }

  /** "Next time the users log in, they must activate two-step verification": tell them now. */
  async function tellAffectedWithoutFactor(companyId: string) {
    const { people } = await impact(companyId);
    for (const person of people.filter((p) => !p.hasFactor)) {
      await emit("policy_requires_enrollment", person.userId, { via: person.via }, companyId);
    }
  }

  /** Dry run: who a mandate of this company reaches, and who has no authenticator yet. */
  async function impact(companyId: string) {
    await existing(companyId);
    const { members, assignees } = await companies.reach(companyId);
    const people = [
      ...members.map((m) => ({ userId: m.user.id, email: m.user.email, name: m.user.name, via: "membership" as const, officeId: null, officeName: null, hasFactor: m.user.totpFactors.length > 0 })),
      ...assignees.map((a) => ({
        userId: a.membership.user.id, email: a.membership.user.email, name: a.membership.user.name, via: "assignment" as const,
        officeId: a.officeId, officeName: a.relation.office.name, hasFactor: a.membership.user.totpFactors.length > 0,
      })),
    ];
    return { companyId, people, total: people.length, withoutFactor: people.filter((p) => !p.hasFactor).length };
  }

  return { create, setMember, removeMember, addClient, removeClient, addAssignee, removeAssignee, getPolicy, setPolicy, impact, existing };
}

export type CompanyService = ReturnType<typeof createCompanyService>;
