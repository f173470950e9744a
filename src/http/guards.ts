// Who may call: a person's bearer access token, or a service client's API key
// with a scope. Guards run as preHandlers. They know nothing of sessions or
// clients: the composition root hands them an authenticate port, so the HTTP
// layer depends on no feature and every feature's routes may use it.
import type { FastifyRequest } from "fastify";
import { AppError } from "../errors.ts";

/** Who is calling, as the audit log records it. */
export type Caller = { type: "user" | "service"; id: string };

declare module "fastify" {
  interface FastifyRequest {
    /** Set by a guard once the caller is known. */
    caller?: Caller;
  }
}

export const API_KEY_HEADER = "x-api-key";
const MAX_API_KEY_LENGTH = 200;

export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const match = /^Bearer ([A-Za-z0-9._~+/=-]{1,4096})$/i.exec(header);
  return match ? match[1]! : null;
}

/** What the guards need from the features: turn a credential into a caller, or null. */
export interface AuthenticatePort<Person extends { userId: string }, Client extends { id: string; scopes: readonly string[] }> {
  person(accessToken: string): Promise<Person | null>;
  client(apiKey: string): Promise<Client | null>;
}

export function createGuards<Person extends { userId: string }, Client extends { id: string; scopes: readonly string[] }>(
  port: AuthenticatePort<Person, Client>,
) {
  const people = new WeakMap<FastifyRequest, Person>();
  const clients = new WeakMap<FastifyRequest, Client>();

  async function user(request: FastifyRequest) {
    const token = bearerToken(request);
    const person = token ? await port.person(token) : null;
    if (!person) throw new AppError("UNAUTHENTICATED");
    people.set(request, person);
    request.caller = { type: "user", id: person.userId };
  }

  /** The presented API key, or null when there is none to look up (absent, or longer than any key). */
  function apiKeyOf(request: FastifyRequest): string | null {
    const key = request.headers[API_KEY_HEADER];
    return typeof key === "string" && key.length <= MAX_API_KEY_LENGTH ? key : null;
  }

  /** Admits a client found for the request's key, or refuses: unknown or revoked, or without the scope. */
  function admitClient(request: FastifyRequest, found: Client | null, scope: Client["scopes"][number]) {
    if (!found) throw new AppError("INVALID_CLIENT");
    if (!found.scopes.includes(scope)) throw new AppError("INSUFFICIENT_SCOPE", { detail: `This route needs the scope ${scope}.` });
    clients.set(request, found);
    request.caller = { type: "service", id: found.id };
  }

  function client(scope: Client["scopes"][number]) {
    return async function requireScope(request: FastifyRequest) {
      const key = apiKeyOf(request);
      admitClient(request, key ? await port.client(key) : null, scope);
    };
  }

  /** The authenticated person; `user` guarantees it on the routes that use it. */
  function principalOf(request: FastifyRequest): Person {
    const person = people.get(request);
    if (!person) throw new AppError("UNAUTHENTICATED");
    return person;
  }

  return { user, client, apiKeyOf, admitClient, principalOf, clientOf: (request: FastifyRequest) => clients.get(request) };
}

export type Guards<Person extends { userId: string }, Client extends { id: string; scopes: readonly string[] }> =
  ReturnType<typeof createGuards<Person, Client>>;
