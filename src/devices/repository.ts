// Trusted devices: the only writer of trusted_devices. Revocation sets revokedAt
// (the row stays, for the audit trail and the device list's history).
import type { Db } from "../db/database.ts";

export interface DeviceView {
  id: string;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date;
}

const deviceFields = { id: true, name: true, createdAt: true, lastUsedAt: true, expiresAt: true } as const;

export function createDeviceRepository(prisma: Db) {
  return {
    async insert(data: { userId: string; name: string; createdAt: Date; expiresAt: Date }): Promise<string> {
      return (await prisma.trustedDevice.create({ data, select: { id: true } })).id;
    },

    /** Marks a use when the device is live for this user (and issued after `issuedAfter`): the row count says whether it is. */
    async touchLive(input: { id: string; userId: string; now: Date; issuedAfter?: Date }): Promise<boolean> {
      const { count } = await prisma.trustedDevice.updateMany({
        where: {
          id: input.id,
          userId: input.userId,
          revokedAt: null,
          expiresAt: { gt: input.now },
          ...(input.issuedAfter ? { createdAt: { gte: input.issuedAfter } } : {}),
        },
        data: { lastUsedAt: input.now },
      });
      return count === 1;
    },

    /** Whether the device is live for this user, without marking a use. */
    async isLive(input: { id: string; userId: string; now: Date }): Promise<boolean> {
      return (await prisma.trustedDevice.count({ where: { id: input.id, userId: input.userId, revokedAt: null, expiresAt: { gt: input.now } } })) === 1;
    },

    listLive: (userId: string, now: Date): Promise<DeviceView[]> =>
      prisma.trustedDevice.findMany({ where: { userId, revokedAt: null, expiresAt: { gt: now } }, select: deviceFields, orderBy: { createdAt: "desc" } }),

    async revoke(userId: string, deviceId: string, now: Date): Promise<boolean> {
      const { count } = await prisma.trustedDevice.updateMany({ where: { id: deviceId, userId, revokedAt: null }, data: { revokedAt: now } });
      return count === 1;
    },

    async revokeAll(userId: string, now: Date): Promise<number> {
      const { count } = await prisma.trustedDevice.updateMany({ where: { userId, revokedAt: null }, data: { revokedAt: now } });
      return count;
    },
  };
}

export type DeviceRepository = ReturnType<typeof createDeviceRepository>;
