// Trusted devices, "Remember this device for 30 days" (design/PRODUCT.md). A
// device token is a JWT of its own profile (typ device+jwt, its own audience and
// its own signing keys, RFC 8725 §3.12) naming a server-side record, so it can be
// revoked. Its expiry is fixed at issue and never extended by use (DT-06).
// NIST SP 800-63B-4 §5.1 does not let "remember my browser" replace a factor:
// a sign-in through it is password-only in NIST's terms (amr pwd + dt), never
// satisfies a step-up, and cannot change 2SV settings. This is the product's
// documented choice.
import type { Clock } from "../lib/clock.ts";
import type { KeyRing } from "../lib/signing-keys.ts";
import type { Transaction } from "../db/database.ts";
import type { DeviceRepository, DeviceView } from "./repository.ts";

export const DEVICE_TOKEN_TYP = "device+jwt";
export const DEVICE_TOKEN_AUDIENCE = "trusted-device";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createDeviceService(deps: {
  devices: DeviceRepository; keys: KeyRing; issuer: string; ttlDays: number; clock: Clock;
  /** The device row and its notification commit together (audit + outbox). */
  transaction: Transaction<{ devices: Pick<DeviceRepository, "insert"> }>;
}) {
  const { devices, keys, clock } = deps;
  const profile = { typ: DEVICE_TOKEN_TYP, issuer: deps.issuer, audience: DEVICE_TOKEN_AUDIENCE };

  /** `onIssued` records the event in the device's unit of work: the row and its event commit together. */
  async function trust(userId: string, name: string, onIssued: (deviceId: string) => Promise<void>): Promise<{ deviceId: string; deviceToken: string }> {
    const now = clock.now();
    const ttlSeconds = deps.ttlDays * 86400;
    const deviceId = await deps.transaction(async (tx) => {
      const id = await tx.devices.insert({ userId, name, createdAt: now, expiresAt: new Date(now.getTime() + ttlSeconds * 1000) });
      await onIssued(id);
      return id;
    });
    const deviceToken = await keys.sign("device", { ...profile, subject: userId, expiresInSeconds: ttlSeconds, claims: { did: deviceId } });
    return { deviceId, deviceToken };
  }

  /**
   * The device id when the token is valid for this user now, else null. Anything
   * wrong (signature, type, expiry, revocation, another user) is the same null:
   * the caller asks for the second step and says nothing about why (DT-04).
   */
  async function recognise(token: string, userId: string, options: { issuedAfter?: Date } = {}): Promise<string | null> {
    const deviceId = await deviceIdOf(token, userId);
    if (!deviceId) return null;
    const live = await devices.touchLive({ id: deviceId, userId, now: clock.now(), issuedAfter: options.issuedAfter });
    return live ? deviceId : null;
  }

  /** The device id a valid token of this user names, or null. */
  async function deviceIdOf(token: string, userId: string): Promise<string | null> {
    const payload = await keys.verify("device", token, profile);
    if (!payload || payload.sub !== userId || typeof payload.did !== "string" || !UUID.test(payload.did)) return null;
    return payload.did;
  }

  /**
   * Whether the token names a live device of this user, without marking a use:
   * asked before the password is checked (the throttle spares trusted devices),
   * so a wrong password leaves no trace on the device.
   */
  async function isTrusted(token: string, userId: string): Promise<boolean> {
    const deviceId = await deviceIdOf(token, userId);
    return deviceId !== null && (await devices.isLive({ id: deviceId, userId, now: clock.now() }));
  }

  return {
    trust,
    recognise,
    isTrusted,
    list: (userId: string): Promise<DeviceView[]> => devices.listLive(userId, clock.now()),
    revoke: (userId: string, deviceId: string): Promise<boolean> => devices.revoke(userId, deviceId, clock.now()),
    revokeAll: (userId: string): Promise<number> => devices.revokeAll(userId, clock.now()),
  };
}

export type DeviceService = ReturnType<typeof createDeviceService>;
