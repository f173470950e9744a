// Helpers for company tests: companies, memberships, office-client relations,
// assignments and policies are made over HTTP with a companies:write API key, as
// a service client would. People sign in over HTTP too, through whatever second
// step the service asks for (TOTP code or forced enrollment).
import { randomBytes } from "node:crypto";
import type { LightMyRequestResponse } from "fastify";
import type { App } from "../../src/http/app-type.ts";
import type { manualClock } from "./clock.ts";
import { createClientService, type Scope } from "../../src/clients/service.ts";
import { createClientRepository } from "../../src/clients/repository.ts";
import { bearer, createUser, login, TEST_PASSWORD } from "./app.ts";
import { totpAt, verify } from "./mfa.ts";

export type ManualClock = ReturnType<typeof manualClock>;
export type Kind = "company" | "accounting_office";
export type Via = "membership" | "assignment";

export interface Company {
  id: string;
  name: string;
  kind: Kind;
}

/** A person the tests sign in; secret and recoveryCodes are filled in once they enroll. */
export interface Person {
  id: string;
  email: string;
  password: string;
  secret?: string;
  recoveryCodes?: string[];
}

export interface Session {
  accessToken: string;
  refreshToken: string;
  deviceToken?: string;
}

export interface Source {
  companyId: string;
  companyName: string;
  via: Via;
}

/** A requiredBy entry, in the shape the API answers. */
export const source = (company: Company, via: Via): Source => ({ companyId: company.id, companyName: company.name, via });

/** requiredBy lists compared without depending on their order. */
export function sortSources(list: Source[]): Source[] {
  return [...list].sort((a, b) => `${a.companyId}:${a.via}`.localeCompare(`${b.companyId}:${b.via}`));
}

/** A service client with the given scopes: its id (the audit actor) and the header that carries its key. */
export async function serviceClient(app: App, scopes: Scope[]) {
  const { id, apiKey } = await createClientService(createClientRepository(app.database.prisma)).create(`test-${scopes.join("+") || "none"}-${randomBytes(3).toString("hex")}`, scopes);
  return { id, apiKey, headers: { "x-api-key": apiKey } as Record<string, string> };
}

function expectStatus(res: LightMyRequestResponse, status: number, what: string) {
  if (res.statusCode !== status) throw new Error(`${what}: expected ${status}, got ${res.statusCode} ${res.body}`);
  return res;
}

/** Company administration through the HTTP API with a companies:write key. */
export async function companyKit(app: App) {
  const svc = await serviceClient(app, ["companies:write"]);
  const h = svc.headers;
  const call = (method: "GET" | "PUT" | "DELETE" | "POST", url: string, payload?: unknown) =>
    app.inject({ method, url, headers: h, ...(payload === undefined ? {} : { payload: payload as object }) });

  async function company(name: string, kind: Kind = "company"): Promise<Company> {
    const res = expectStatus(await call("POST", "/v1/companies", { name, kind }), 201, `create ${name}`);
    return { id: res.json().id, name, kind };
  }

  return {
    serviceClientId: svc.id,
    headers: h,
    company,
    office: (name: string) => company(name, "accounting_office"),
    member: async (companyId: string, userId: string, role: "admin" | "user" = "user") =>
      void expectStatus(await call("PUT", `/v1/companies/${companyId}/members/${userId}`, { role }), 204, "set member"),
    removeMember: async (companyId: string, userId: string) =>
      void expectStatus(await call("DELETE", `/v1/companies/${companyId}/members/${userId}`), 204, "remove member"),
    serve: async (officeId: string, clientId: string) =>
      void expectStatus(await call("PUT", `/v1/companies/${officeId}/clients/${clientId}`), 204, "add client"),
    unserve: async (officeId: string, clientId: string) =>
      void expectStatus(await call("DELETE", `/v1/companies/${officeId}/clients/${clientId}`), 204, "remove client"),
    assign: async (officeId: string, clientId: string, userId: string) =>
      void expectStatus(await call("PUT", `/v1/companies/${officeId}/clients/${clientId}/assignees/${userId}`), 204, "assign"),
    unassign: async (officeId: string, clientId: string, userId: string) =>
      void expectStatus(await call("DELETE", `/v1/companies/${officeId}/clients/${clientId}/assignees/${userId}`), 204, "unassign"),
    /** Sets the policy; returns the policy as answered. */
    setPolicy: async (companyId: string, mandatoryTwoFactor: boolean, enrollmentDeadline?: string | null) =>
      expectStatus(
        await call("PUT", `/v1/companies/${companyId}/security-policy`, { mandatoryTwoFactor, ...(enrollmentDeadline !== undefined ? { enrollmentDeadline } : {}) }),
        200, "set policy",
      ).json() as { mandatoryTwoFactor: boolean; mandateSince: string | null; enrollmentDeadline: string | null },
    policy: async (companyId: string) => expectStatus(await call("GET", `/v1/companies/${companyId}/security-policy`), 200, "read policy").json(),
    impact: async (companyId: string) =>
      expectStatus(await call("GET", `/v1/companies/${companyId}/security-policy/impact`), 200, "impact").json() as {
        companyId: string;
        people: { userId: string; via: Via; officeId: string | null; officeName: string | null; hasFactor: boolean }[];
        total: number;
        withoutFactor: number;
      },
  };
}

export type CompanyKit = Awaited<ReturnType<typeof companyKit>>;

/** Moves the clock to the next 30 s step and answers that step's code: every code is fresh (not a replay). */
export function freshCode(clock: ManualClock, secret: string): string {
  clock.advance(30_000);
  return totpAt(secret, clock.now());
}

/** A code none of the accepted steps (one either side of now) produces: a wrong code, never a lucky one. */
export function wrongCode(secret: string, at: Date): string {
  const accepted = new Set([-1, 0, 1].map((offset) => totpAt(secret, at, offset)));
  let n = 123456;
  while (accepted.has(String(n).padStart(6, "0"))) n = (n + 1) % 1_000_000;
  return String(n).padStart(6, "0");
}

/** A new user with a password and no second factor. */
export async function person(app: App): Promise<Person> {
  return createUser(app);
}

/** Sets up TOTP with a bearer access token or an enrollment token; stores the secret and recovery codes on the person. */
async function setUpTotp(app: App, clock: ManualClock, who: Person, token: string) {
  const start = expectStatus(await app.inject({ method: "POST", url: "/v1/me/mfa/totp", headers: bearer(token) }), 200, "enroll start");
  const secret = start.json().secret as string;
  const confirm = expectStatus(
    await app.inject({ method: "POST", url: "/v1/me/mfa/totp/confirm", headers: bearer(token), payload: { code: freshCode(clock, secret) } }),
    200, "enroll confirm",
  );
  who.secret = secret;
  who.recoveryCodes = confirm.json().recoveryCodes;
  return confirm.json() as { recoveryCodes: string[]; session?: Session & { status: string } };
}

/**
 * Signs a person in all the way: a TOTP code when asked for the second step,
 * enrollment when the login asks for it. Returns the session.
 */
export async function signIn(app: App, clock: ManualClock, who: Person, extra: { deviceToken?: string; rememberDevice?: boolean } = {}): Promise<Session> {
  const res = await login(app, who.email, who.password, extra.deviceToken ? { deviceToken: extra.deviceToken } : {});
  const body = res.json();
  if (res.statusCode !== 200) throw new Error(`signIn: ${res.statusCode} ${res.body}`);
  if (body.status === "authenticated") return body;
  if (body.status === "mfa_enrollment_required") {
    const confirmed = await setUpTotp(app, clock, who, body.enrollmentToken);
    return confirmed.session!;
  }
  if (!who.secret) throw new Error("signIn: a second step is asked but the person has no TOTP secret");
  const done = await verify(app, {
    mfaToken: body.mfaToken, method: "totp", code: freshCode(clock, who.secret), ...(extra.rememberDevice ? { rememberDevice: true, deviceName: "Test device" } : {}),
  });
  return expectStatus(done, 200, "verify").json();
}

/** A new person without a factor, a member of a new company that mandates 2SV: their sign-in forces enrollment. */
export async function mandatedPerson(app: App, companyName: string): Promise<Person> {
  const kit = await companyKit(app);
  const company = await kit.company(companyName);
  await kit.setPolicy(company.id, true);
  const who = await person(app);
  await kit.member(company.id, who.id);
  return who;
}

/** A person with TOTP set up (from a password session), signed out. */
export async function personWithTotp(app: App, clock: ManualClock): Promise<Person> {
  const who = await person(app);
  const session = await signIn(app, clock, who);
  await setUpTotp(app, clock, who, session.accessToken);
  return who;
}

/**
 * An admin of a company, signed in with a bearer token. Made admin with the
 * service key; by default with TOTP and a session that passed the second step.
 */
export async function companyAdmin(app: App, clock: ManualClock, kit: CompanyKit, companyId: string, options: { secondFactor?: boolean } = {}) {
  const admin = options.secondFactor === false ? await person(app) : await personWithTotp(app, clock);
  await kit.member(companyId, admin.id, "admin");
  const session = await signIn(app, clock, admin);
  return { ...admin, session, headers: bearer(session.accessToken) };
}

/** The login answer as it is, for assertions. */
export async function loginAnswer(app: App, who: Person, extra: Record<string, unknown> = {}) {
  return login(app, who.email, who.password ?? TEST_PASSWORD, extra);
}
