// Paired authenticator apps: the only writer of push_authenticators. A pairing
// moves pairing -> completed (the app proved its key) -> active (the person
// confirmed it in the session that started it), each step one conditional update.
import type { Db } from "../db/database.ts";
import { Prisma } from "../generated/prisma/client.ts";
import type { PushAddress } from "./delivery/sender.ts";

export type AppKeyAlgorithm = "ES256" | "EdDSA";

export interface AuthenticatorRecord {
  id: string;
  userId: string;
  status: "pairing" | "completed" | "active";
  startedBy: string;
  pairingExpiresAt: Date;
  name: string | null;
  publicJwk: Record<string, string> | null;
  thumbprint: string | null;
  algorithm: AppKeyAlgorithm | null;
  pushAddress: PushAddress | null;
  createdAt: Date;
  confirmedAt: Date | null;
  lastUsedAt: Date | null;
}

const fields = {
  id: true, userId: true, status: true, startedBy: true, pairingExpiresAt: true, name: true, publicJwk: true,
  thumbprint: true, algorithm: true, pushAddress: true, createdAt: true, confirmedAt: true, lastUsedAt: true,
} as const;

const toRecord = (row: unknown) => row as AuthenticatorRecord | null;

export function createPushAuthenticatorRepository(prisma: Db) {
  return {
    async insertPairing(data: { userId: string; pairingTokenHash: string; startedBy: string; pairingExpiresAt: Date; now: Date }) {
      // Unfinished pairings of this person that expired are dead weight: they go with each new one.
      await prisma.pushAuthenticator.deleteMany({ where: { userId: data.userId, status: { not: "active" }, pairingExpiresAt: { lte: data.now } } });
      const row = await prisma.pushAuthenticator.create({
        data: { userId: data.userId, status: "pairing", pairingTokenHash: data.pairingTokenHash, startedBy: data.startedBy, pairingExpiresAt: data.pairingExpiresAt, createdAt: data.now },
        select: { id: true },
      });
      return row.id;
    },

    findByPairingTokenHash: async (pairingTokenHash: string) =>
      toRecord(await prisma.pushAuthenticator.findUnique({ where: { pairingTokenHash }, select: fields })),

    findById: async (id: string) => toRecord(await prisma.pushAuthenticator.findUnique({ where: { id }, select: fields })),

    /** The active app holding the key with this RFC 7638 thumbprint. */
    findActiveByThumbprint: async (thumbprint: string) =>
      toRecord(await prisma.pushAuthenticator.findFirst({ where: { thumbprint, status: "active" }, select: fields })),

    thumbprintTaken: async (thumbprint: string) => (await prisma.pushAuthenticator.count({ where: { thumbprint } })) > 0,

    /** The app proved its key: single use, because only a row still "pairing" and unexpired moves. */
    async complete(input: { id: string; now: Date; name: string; publicJwk: Record<string, string>; thumbprint: string; algorithm: AppKeyAlgorithm; pushAddress: PushAddress | null }) {
      const { count } = await prisma.pushAuthenticator.updateMany({
        where: { id: input.id, status: "pairing", pairingExpiresAt: { gt: input.now } },
        data: {
          status: "completed", completedAt: input.now, name: input.name, publicJwk: input.publicJwk, thumbprint: input.thumbprint,
          algorithm: input.algorithm, pushAddress: (input.pushAddress ?? undefined) as Prisma.InputJsonValue | undefined,
        },
      });
      return count === 1;
    },

    /** The person confirmed it in the session that started it. */
    async activate(input: { id: string; userId: string; startedBy: string; now: Date }) {
      const { count } = await prisma.pushAuthenticator.updateMany({
        where: { id: input.id, userId: input.userId, startedBy: input.startedBy, status: "completed", pairingExpiresAt: { gt: input.now } },
        data: { status: "active", confirmedAt: input.now, pairingTokenHash: null },
      });
      return count === 1;
    },

    /** Active apps and pairings waiting for confirmation (not yet expired). */
    listForUser: async (userId: string, now: Date) =>
      (await prisma.pushAuthenticator.findMany({
        where: { userId, OR: [{ status: "active" }, { status: "completed", pairingExpiresAt: { gt: now } }] },
        select: fields,
        orderBy: { createdAt: "asc" },
      })) as unknown as AuthenticatorRecord[],

    listActive: async (userId: string) =>
      (await prisma.pushAuthenticator.findMany({ where: { userId, status: "active" }, select: fields })) as unknown as AuthenticatorRecord[],

    async remove(userId: string, id: string) {
      const { count } = await prisma.pushAuthenticator.deleteMany({ where: { id, userId } });
      return count === 1;
    },

    async removeAllForUser(userId: string) {
      const { count } = await prisma.pushAuthenticator.deleteMany({ where: { userId } });
      return count;
    },

    async touch(id: string, now: Date) {
      await prisma.pushAuthenticator.updateMany({ where: { id }, data: { lastUsedAt: now } });
    },

    /** The provider said the address is gone (an uninstalled app): stop sending to it. */
    async clearAddress(id: string) {
      await prisma.pushAuthenticator.updateMany({ where: { id }, data: { pushAddress: Prisma.DbNull } });
    },
  };
}

export type PushAuthenticatorRepository = ReturnType<typeof createPushAuthenticatorRepository>;
