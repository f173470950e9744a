// Service clients: the only writer of service_clients. Lookup is by the key's hash.
import type { Db } from "../db/database.ts";

export function createClientRepository(prisma: Db) {
  return {
    async insert(data: { name: string; scopes: string[]; secretHash: string }): Promise<string> {
      return (await prisma.serviceClient.create({ data, select: { id: true } })).id;
    },

    findBySecretHash: (secretHash: string) =>
      prisma.serviceClient.findUnique({ where: { secretHash }, select: { id: true, name: true, scopes: true, revokedAt: true } }),

    list: () =>
      prisma.serviceClient.findMany({ select: { id: true, name: true, scopes: true, createdAt: true, revokedAt: true }, orderBy: { createdAt: "asc" } }),

    async revoke(id: string, now: Date): Promise<boolean> {
      const { count } = await prisma.serviceClient.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: now } });
      return count === 1;
    },
  };
}

export type ClientRepository = ReturnType<typeof createClientRepository>;
