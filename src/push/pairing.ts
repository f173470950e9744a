// Pairing an authenticator app (QR code, proof of possession). Three steps, so a
// QR code seen over a shoulder pairs nothing by itself (PUSH-ANCHORS §4
// "Enrollment hijack"):
// 1. the person starts it in a session allowed to change 2SV (the TOTP rule);
// 2. the app sends its public key with a JWS by that key over the single-use
//    pairing token (proof of possession), and the name it shows;
// 3. the person confirms, in the session that started it, after seeing that name.
import QRCode from "qrcode";
import { AppError } from "../errors.ts";
import { AMR, passedSecondStep } from "../lib/amr.ts";
import type { Clock } from "../lib/clock.ts";
import { randomToken, sha256 } from "../lib/identifiers.ts";
import { hasAuthenticator, hasSecondFactor } from "../lib/second-factors.ts";
import type { EmitEvent } from "../audit/events.ts";
import type { Transaction } from "../db/database.ts";
import type { Actor, EnrollmentService } from "../mfa/enrollment.ts";
import type { ChallengeService, Enrollee } from "../mfa/challenges.ts";
import type { MfaRepository } from "../mfa/repository.ts";
import type { SecondStepService } from "../mfa/second-step.ts";
import { PAIRING_TYP, publicAppKey, thumbprintOf, verifiedPayload } from "./app-signature.ts";
import type { AuthenticatorRecord, PushAuthenticatorRepository } from "./authenticator-repository.ts";
import type { PushAddress } from "./delivery/sender.ts";

export const PAIRING_URI_SCHEME = "idpush:";

/** Who pairs: a person (or enrollee) and the session that must also confirm. */
export interface PairingActor extends Actor {
  startedBy: string;
  enrollee?: Enrollee;
}

export interface CompletePairingInput {
  pairingToken: string;
  name: string;
  publicKey: Record<string, unknown>;
  pushAddress?: PushAddress;
  proof: string;
}

export function createPairingService(deps: {
  authenticators: PushAuthenticatorRepository;
  mfa: Pick<MfaRepository, "signInState">;
  transaction: Transaction<{ mfa: MfaRepository; pushAuthenticators: PushAuthenticatorRepository }>;
  enrollment: Pick<EnrollmentService, "assertMayChange" | "newRecoveryCodes">;
  challenges: Pick<ChallengeService, "attempt" | "consume">;
  startSession: SecondStepService["authenticated"];
  assertMayTurnOff: (userId: string) => Promise<void>;
  onEvent: EmitEvent;
  clock: Clock;
  settings: { pairingTtlSeconds: number; publicUrl: string; serviceName: string; recoveryCodeCount: number };
}) {
  const { authenticators, clock, settings } = deps;

  async function start(actor: PairingActor) {
    await deps.enrollment.assertMayChange(actor);
    const token = randomToken("pair");
    const now = clock.now();
    const pairingId = await authenticators.insertPairing({
      userId: actor.userId, pairingTokenHash: sha256(token), startedBy: actor.startedBy, pairingExpiresAt: new Date(now.getTime() + settings.pairingTtlSeconds * 1000), now,
    });
    const pairingUri = `${PAIRING_URI_SCHEME}//pair?${new URLSearchParams({ v: "1", url: settings.publicUrl, token, issuer: settings.serviceName })}`;
    await deps.onEvent("push_pairing_started", actor.userId, { pairingId });
    return { pairingId, pairingUri, qrSvg: await QRCode.toString(pairingUri, { type: "svg", errorCorrectionLevel: "M" }), expiresIn: settings.pairingTtlSeconds };
  }

  /** The app's half: the key, proven by a JWS over the pairing token (its nonce), once. */
  async function complete(input: CompletePairingInput) {
    const row = await authenticators.findByPairingTokenHash(sha256(input.pairingToken));
    if (!row || row.status !== "pairing" || row.pairingExpiresAt <= clock.now()) throw new AppError("PAIRING_TOKEN_INVALID");
    const key = publicAppKey(input.publicKey);
    if (!key) throw new AppError("UNSUPPORTED_APP_KEY");
    const claims = await verifiedPayload(input.proof, key, PAIRING_TYP);
    if (!claims || claims.nonce !== input.pairingToken || claims.aud !== settings.publicUrl) throw new AppError("PAIRING_PROOF_INVALID");
    const thumbprint = await thumbprintOf(key.jwk);
    if (await authenticators.thumbprintTaken(thumbprint)) throw new AppError("APP_KEY_IN_USE");
    const done = await authenticators.complete({
      id: row.id, now: clock.now(), name: input.name.trim(), publicJwk: key.jwk, thumbprint, algorithm: key.algorithm, pushAddress: input.pushAddress ?? null,
    }).catch((error: unknown) => {
      // The unique thumbprint index decides a race between two pairings of one key.
      if ((error as { code?: string }).code === "P2002") throw new AppError("APP_KEY_IN_USE");
      throw error;
    });
    if (!done) throw new AppError("PAIRING_TOKEN_INVALID");
    await deps.onEvent("push_pairing_completed", row.userId, { pairingId: row.id, name: input.name.trim() });
    return { pairingId: row.id, thumbprint, status: "awaiting_confirmation" as const };
  }

  /** The person's half: activates it; the first factor also turns 2SV on and shows the recovery code once. */
  async function confirm(actor: PairingActor, pairingId: string) {
    await deps.enrollment.assertMayChange(actor);
    const first = !hasSecondFactor(await deps.mfa.signInState(actor.userId));
    const recovery = first ? await deps.enrollment.newRecoveryCodes(settings.recoveryCodeCount) : null;
    const now = clock.now();
    const activated = await deps.transaction(async (tx) => {
      const done = await tx.pushAuthenticators.activate({ id: pairingId, userId: actor.userId, startedBy: actor.startedBy, now });
      if (done && recovery) {
        await tx.mfa.replaceRecoveryCodes(actor.userId, recovery.hashes, now);
        await tx.mfa.clearFailures(actor.userId);
      }
      // In the unit of work: the notifications commit with the pairing (outbox).
      if (done) await deps.onEvent("push_paired", actor.userId, { pairingId });
      if (done && first) await deps.onEvent("mfa_enrolled", actor.userId, { method: "push" });
      return done;
    });
    if (!activated) throw new AppError("NO_PAIRING_TO_CONFIRM");
    const session = actor.enrollee ? await sessionForEnrollee(actor.enrollee) : undefined;
    return { id: pairingId, ...(recovery ? { recoveryCodes: recovery.display } : {}), ...(session ? { session } : {}) };
  }

  /** Forced enrollment: the enrollment token is spent and a session begins, as when TOTP is confirmed with it. */
  async function sessionForEnrollee(enrollee: Enrollee) {
    const challenge = await deps.challenges.attempt(enrollee.challengeToken, "enrollment");
    if (!(await deps.challenges.consume(challenge.id))) throw new AppError("UNAUTHENTICATED", { logReason: "enrollment_consumed_concurrently" });
    return deps.startSession(enrollee.userId, [...challenge.amr, AMR.push, AMR.multiFactor], clock.now());
  }

  /** Paired apps and the pairings waiting for this person's confirmation. */
  const list = async (userId: string) => (await authenticators.listForUser(userId, clock.now())).map(toView);

  /**
   * Removal needs this session's second step. Removing the last authenticator
   * turns 2SV off (its recovery codes go too), refused while a mandate applies.
   */
  async function remove(actor: Actor, id: string) {
    if (!passedSecondStep(actor.amr)) throw new AppError("SECOND_FACTOR_REQUIRED");
    const row = await authenticators.findById(id);
    if (!row || row.userId !== actor.userId) throw new AppError("NOT_FOUND");
    const state = await deps.mfa.signInState(actor.userId);
    const last = row.status === "active" && !hasAuthenticator({ ...state, pushApps: state.pushApps - 1 });
    if (last) await deps.assertMayTurnOff(actor.userId);
    await deps.transaction(async (tx) => {
      await tx.pushAuthenticators.remove(actor.userId, id);
      if (last) await tx.mfa.removeSecondFactors(actor.userId);
      await deps.onEvent("push_authenticator_removed", actor.userId, { pairingId: id, name: row.name });
      if (last) await deps.onEvent("mfa_disabled", actor.userId);
    });
  }

  return { start, complete, confirm, list, remove };
}

export function toView(row: Pick<AuthenticatorRecord, "id" | "name" | "status" | "algorithm" | "confirmedAt" | "createdAt" | "lastUsedAt">) {
  return {
    id: row.id,
    name: row.name ?? "",
    status: row.status === "active" ? ("active" as const) : ("awaiting_confirmation" as const),
    algorithm: row.algorithm ?? "ES256",
    pairedAt: (row.confirmedAt ?? row.createdAt).toISOString(),
    lastUsedAt: row.lastUsedAt ? row.lastUsedAt.toISOString() : null,
  };
}

export type PairingService = ReturnType<typeof createPairingService>;
