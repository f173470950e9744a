// Which paired app is calling: a short JWS in the x-app-signature header, by the
// app's registered key, naming this request's method and path, fresh and used once.
import { AppError } from "../errors.ts";
import type { Clock } from "../lib/clock.ts";
import { assertFresh, assertJti, keyIdOf, REQUEST_TYP, verifiedPayload } from "./app-signature.ts";
import type { AuthenticatorRecord, PushAuthenticatorRepository } from "./authenticator-repository.ts";

export const APP_SIGNATURE_HEADER = "x-app-signature";

export function createAppAuthenticator(deps: { authenticators: PushAuthenticatorRepository; claimOnce: (key: string, windowMs: number) => Promise<boolean>; clock: Clock }) {
  /** The active app whose key signed `jws`, or a refusal that says nothing about which check failed. */
  async function appOf(jws: string | undefined): Promise<AuthenticatorRecord> {
    const kid = jws && jws.length <= 4096 ? keyIdOf(jws) : null;
    const app = kid ? await deps.authenticators.findActiveByThumbprint(kid) : null;
    if (!app?.publicJwk || !app.algorithm) throw new AppError("INVALID_APP_SIGNATURE", { logReason: "unknown_key" });
    return app;
  }

  return {
    appOf,
    /** A signed request: method, path, iat within 120 s, single-use jti. */
    async authenticateRequest(jws: string | undefined, method: string, path: string): Promise<AuthenticatorRecord> {
      const app = await appOf(jws);
      const claims = await verifiedPayload(jws!, { jwk: app.publicJwk!, algorithm: app.algorithm! }, REQUEST_TYP);
      if (!claims || claims.htm !== method || claims.htu !== path) throw new AppError("INVALID_APP_SIGNATURE", { logReason: "request_claims" });
      assertFresh(claims, deps.clock);
      const jti = assertJti(claims);
      if (!(await deps.claimOnce(`app-jti:${app.thumbprint}:${jti}`, 2 * 120_000))) throw new AppError("INVALID_APP_SIGNATURE", { logReason: "jti_replayed" });
      return app;
    },
  };
}

export type AppAuthenticator = ReturnType<typeof createAppAuthenticator>;
