// Service clients (the bank integration, support tools) authenticate with an API
// key created on the command line. Only its SHA-256 is stored: the key is 256
// random bits, so a fast hash is enough (ASVS 6.5.2) and lookup is by that hash.
import { randomToken, sha256 } from "../lib/identifiers.ts";
import type { ClientRepository } from "./repository.ts";

export const SCOPES = [
  "users:write",
  "users:read",
  "users:mfa-reset",
  "companies:write",
  "tokens:introspect",
] as const;
export type Scope = (typeof SCOPES)[number];

export interface ServiceClient {
  id: string;
  name: string;
  scopes: Scope[];
}

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

/** The stored client row as a caller: null when revoked; scopes this version does not know are dropped. */
export function clientOf(row: { id: string; name: string; scopes: string[]; revokedAt: Date | null } | null): ServiceClient | null {
  if (!row || row.revokedAt) return null;
  return { id: row.id, name: row.name, scopes: row.scopes.filter(isScope) };
}

/** Lookup is by the key's SHA-256: the key is 256 random bits (ASVS 6.5.2). */
export const apiKeyHash = (apiKey: string) => sha256(apiKey);

export function createClientService(clients: ClientRepository) {
  return {
    async create(name: string, scopes: Scope[]): Promise<{ id: string; apiKey: string }> {
      const apiKey = randomToken("isk");
      const id = await clients.insert({ name, scopes, secretHash: sha256(apiKey) });
      return { id, apiKey };
    },

    async authenticate(apiKey: string): Promise<ServiceClient | null> {
      return clientOf(await clients.findBySecretHash(apiKeyHash(apiKey)));
    },

    list: () => clients.list(),
    revoke: (id: string) => clients.revoke(id, new Date()),
  };
}

export type ClientService = ReturnType<typeof createClientService>;
