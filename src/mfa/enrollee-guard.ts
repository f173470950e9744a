// The routes that set up a factor (TOTP, or pairing a push app) accept a person's
// access token or the enrollment token of a mandatory-2SV sign-in.
import type { FastifyRequest } from "fastify";
import { AppError } from "../errors.ts";
import { bearerToken } from "../http/guards.ts";
import type { AppGuards } from "../sessions/guards.ts";
import { ENROLLMENT_TOKEN_PREFIX, type Enrollee } from "./challenges.ts";

export function createEnrolleeGuard(guards: AppGuards, findEnrollee: (token: string) => Promise<Enrollee | null>) {
  const enrollees = new WeakMap<FastifyRequest, Enrollee>();

  /** A person's access token, or an enrollment token. */
  async function userOrEnrollee(request: FastifyRequest) {
    const token = bearerToken(request);
    if (!token?.startsWith(ENROLLMENT_TOKEN_PREFIX)) return guards.user(request);
    const enrollee = await findEnrollee(token);
    if (!enrollee) throw new AppError("UNAUTHENTICATED");
    enrollees.set(request, enrollee);
  }

  return {
    userOrEnrollee,
    enrolleeOf: (request: FastifyRequest) => enrollees.get(request),
    /** Who is changing 2SV: the signed-in person, or the holder of an enrollment token. */
    actorOf: (request: FastifyRequest) => enrollees.get(request) ?? guards.principalOf(request),
  };
}
