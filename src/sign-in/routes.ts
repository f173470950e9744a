import { problemResponsesFor } from "../http/problem.ts";
import { ref, withExamples } from "../http/components.ts";
import type { App } from "../http/app-type.ts";
import type { CookieTransport } from "../sessions/cookie-transport.ts";
import { LoginBodySchema, LoginResultSchema, signInExamples } from "./schemas.ts";
import type { SignInService } from "./service.ts";

export function registerSignInRoutes(app: App, signIn: SignInService, transport: CookieTransport) {
  app.post("/v1/auth/login", {
    schema: {
      tags: ["Sign-in"],
      summary: "Sign in with email and password",
      description:
        "Answers `authenticated` (tokens), `mfa_required` (second step next) or `mfa_enrollment_required`. " +
        "A wrong email or password gives one identical 401 problem, and so does the right password once LOGIN_FAILURE_CAP consecutive failures disabled it (until a support unlock). " +
        "Throttled per client address, per account and address, and per account (429 with Retry-After; a valid deviceToken is not held by failures from elsewhere). " +
        "A disabled account gets 403 ACCOUNT_DISABLED, only after a correct password. " +
        "Pages in a browser send `x-session-transport: cookie` (cookie mode, allowed Origins only, else 403 ORIGIN_NOT_ALLOWED): " +
        "the refresh token is then set as an HttpOnly cookie instead of being returned.",
      security: [],
      body: LoginBodySchema,
      response: {
        200: withExamples(ref(LoginResultSchema), signInExamples),
        ...problemResponsesFor("PASSWORD_TOO_LONG", "INVALID_CREDENTIALS", "ACCOUNT_DISABLED", "RATE_LIMITED", "SERVICE_BUSY", "UNAVAILABLE"),
      },
    },
  }, async (request, reply) => transport.deliver(request, reply, await signIn.login(request.body, request.ip, request.log)));
}
