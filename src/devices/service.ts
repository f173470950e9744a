// Trusted devices, "Remember this device for 30 days" (design/PRODUCT.md). A
// device token is a JWT of its own profile (typ device+jwt, its own audience and
// its own signing keys, RFC 8725 §3.12) naming a server-side record, so it can be
// revoked. Its expiry is fixed at issue and never extended by use (DT-06).
// NIST SP 800-63B-4 §5.1 does not let "remember my browser" replace a factor:
// a sign-in through it is password-only in NIST's terms (amr pwd + dt), never
// satisfies a step-up, and cannot change 2SV settings. This is the product's
// documented choice.
import type { Prisma } from "../db/database.ts";
import type { Clock } from "../lib/clock.ts";
import type { KeyRing } from "../lib/signing-keys.ts";

export const DEVICE_TOKEN_TYP = "device+jwt";
export const DEVICE_TOKEN_AUDIENCE = "trusted-device";

export interface DeviceView {
  id: string;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const deviceFields = { id: true, name: true, createdAt: true, lastUsedAt: true, expiresAt: true } as const;

export function createDeviceService(deps: { prisma: Prisma; keys: KeyRing; issuer: string; ttlDays: number; clock: Clock }) {
  const { prisma, keys, clock } = deps;
  const profile = { typ: DEVICE_TOKEN_TYP, issuer: deps.issuer, audience: DEVICE_TOKEN_AUDIENCE };

  async function trust(userId: string, name: string): Promise<{ deviceId: string; deviceToken: string }> {
    const now = clock.now();
    const ttlSeconds = deps.ttlDays * 86400;
    const device = await prisma.trustedDevice.create({
      data: { userId, name, createdAt: now, expiresAt: new Date(now.getTime() + ttlSeconds * 1000) },
      select: { id: true },
    });
    const deviceToken = await keys.sign("device", { ...profile, subject: userId, expiresInSeconds: ttlSeconds, claims: { did: device.id } });
    return { deviceId: device.id, deviceToken };
  }

  /**
   * The device id when the token is valid for this user now, else null. Anything
   * wrong (signature, type, expiry, revocation, another user) is the same null:
   * the caller asks for the second step and says nothing about why (DT-04).
   */
  async function recognise(token: string, userId: string, options: { issuedAfter?: Date } = {}): Promise<string | null> {
    const payload = await keys.verify("device", token, profile);
    if (!payload || payload.sub !== userId || typeof payload.did !== "string" || !UUID.test(payload.did)) return null;
    const now = clock.now();
    const { count } = await prisma.trustedDevice.updateMany({
      where: {
        id: payload.did,
        userId,
        revokedAt: null,
        expiresAt: { gt: now },
        ...(options.issuedAfter ? { createdAt: { gte: options.issuedAfter } } : {}),
      },
      data: { lastUsedAt: now },
    });
    return count === 1 ? payload.did : null;
  }

  return {
    trust,
    recognise,
    list: (userId: string): Promise<DeviceView[]> =>
      prisma.trustedDevice.findMany({
        where: { userId, revokedAt: null, expiresAt: { gt: clock.now() } },
        select: deviceFields,
        orderBy: { createdAt: "desc" },
      }),
    async revoke(userId: string, deviceId: string): Promise<boolean> {
      const { count } = await prisma.trustedDevice.updateMany({ where: { id: deviceId, userId, revokedAt: null }, data: { revokedAt: clock.now() } });
      return count === 1;
    },
    async revokeAll(userId: string): Promise<number> {
      const { count } = await prisma.trustedDevice.updateMany({ where: { userId, revokedAt: null }, data: { revokedAt: clock.now() } });
      return count;
    },
  };
}

export type DeviceService = ReturnType<typeof createDeviceService>;
