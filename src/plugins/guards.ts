// Who may call: a person's bearer access token, or a service client's API key
// with a scope. Guards run as preHandlers and leave the caller on the request.
import type { FastifyRequest } from "fastify";
import { AppError } from "../errors.ts";
import type { ClientService, Scope, ServiceClient } from "../clients/service.ts";
import type { Principal, SessionService } from "../sessions/service.ts";

/** The holder of an enrollment token: a person who must set up 2SV before any session. */
export interface Enrollee {
  challengeId: string;
  /** Kept to count confirmation attempts against the token's cap. */
  challengeToken: string;
  userId: string;
  amr: string[];
  authTime: Date;
}

declare module "fastify" {
  interface FastifyRequest {
    principal?: Principal;
    serviceClient?: ServiceClient;
    enrollee?: Enrollee;
  }
}

export const ENROLLMENT_TOKEN_PREFIX = "enr_";

export const API_KEY_HEADER = "x-api-key";

export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const match = /^Bearer ([A-Za-z0-9._~+/=-]{1,4096})$/i.exec(header);
  return match ? match[1]! : null;
}

export function createGuards(
  sessions: SessionService,
  clients: ClientService,
  findEnrollee: (token: string) => Promise<Enrollee | null> = async () => null,
) {
  async function user(request: FastifyRequest) {
    const token = bearerToken(request);
    const principal = token ? await sessions.authenticate(token) : null;
    if (!principal) throw new AppError("UNAUTHENTICATED");
    request.principal = principal;
  }

  function client(scope: Scope) {
    return async function requireScope(request: FastifyRequest) {
      const key = request.headers[API_KEY_HEADER];
      const found = typeof key === "string" && key.length <= 200 ? await clients.authenticate(key) : null;
      if (!found) throw new AppError("INVALID_CLIENT");
      if (!found.scopes.includes(scope)) throw new AppError("INSUFFICIENT_SCOPE", { detail: `This route needs the scope ${scope}.` });
      request.serviceClient = found;
    };
  }

  /** A person's access token, or an enrollment token: the TOTP enrollment routes alone accept both. */
  async function userOrEnrollee(request: FastifyRequest) {
    const token = bearerToken(request);
    if (token?.startsWith(ENROLLMENT_TOKEN_PREFIX)) {
      const enrollee = await findEnrollee(token);
      if (!enrollee) throw new AppError("UNAUTHENTICATED");
      request.enrollee = enrollee;
      return;
    }
    return user(request);
  }

  return { user, client, userOrEnrollee };
}

export type Guards = ReturnType<typeof createGuards>;

/** The authenticated person; guards guarantee it on routes that use them. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new AppError("UNAUTHENTICATED");
  return request.principal;
}
