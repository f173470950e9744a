// Service clients (the bank integration, support tools) authenticate with an API
// key created on the command line. Only its SHA-256 is stored: the key is 256
// random bits, so a fast hash is enough (ASVS 6.5.2) and lookup is by that hash.
import type { Prisma } from "../db/database.ts";
import { randomToken, sha256 } from "../lib/identifiers.ts";

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

export function createClientService(prisma: Prisma) {
  return {
    async create(name: string, scopes: Scope[]): Promise<{ id: string; apiKey: string }> {
      const apiKey = randomToken("isk");
      const client = await prisma.serviceClient.create({
        data: { name, scopes, secretHash: sha256(apiKey) },
        select: { id: true },
      });
      return { id: client.id, apiKey };
    },

    async authenticate(apiKey: string): Promise<ServiceClient | null> {
      const client = await prisma.serviceClient.findUnique({
        where: { secretHash: sha256(apiKey) },
        select: { id: true, name: true, scopes: true, revokedAt: true },
      });
      if (!client || client.revokedAt) return null;
      return { id: client.id, name: client.name, scopes: client.scopes.filter(isScope) };
    },

    list() {
      return prisma.serviceClient.findMany({
        select: { id: true, name: true, scopes: true, createdAt: true, revokedAt: true },
        orderBy: { createdAt: "asc" },
      });
    },

    async revoke(id: string): Promise<boolean> {
      const { count } = await prisma.serviceClient.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: new Date() } });
      return count === 1;
    },
  };
}

export type ClientService = ReturnType<typeof createClientService>;
