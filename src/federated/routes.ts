import type { FastifyBaseLogger } from "fastify";
import type { App } from "../http/app-type.ts";
import type { Config } from "../config.ts";
import type { Prisma } from "../db/database.ts";
import type { Clock } from "../lib/clock.ts";
import type { Guards } from "../plugins/guards.ts";
import type { EmitEvent } from "../audit/events.ts";
import type { FirstFactorSuccess } from "../sign-in/service.ts";
import type { LoginResult } from "../sign-in/schemas.ts";

export interface FederatedDeps {
  config: Config;
  prisma: Prisma;
  clock: Clock;
  guards: Guards;
  emit: EmitEvent;
  /** The sign-in's next step for a first factor (second step, enrollment or session). */
  afterFirstFactor: (success: FirstFactorSuccess, log: FastifyBaseLogger) => Promise<LoginResult>;
  /** A session straight away, for a provider that is multi-factor by itself. */
  startSession: (userId: string, amr: string[], authTime: Date) => Promise<LoginResult>;
}

/** POST /v1/auth/federated and linking external identities (implementation in progress). */
export async function registerFederatedRoutes(_app: App, _deps: FederatedDeps): Promise<void> {}
