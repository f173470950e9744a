// External sign-in (Mobile BankID broker) and linking people to their external
// identity. The routes are registered whatever the configuration, so the OpenAPI
// document is the same everywhere; while the provider is not configured, sign-in
// answers 404 FEDERATED_SIGN_IN_DISABLED (the feature does not exist on this
// deployment, and retrying will not help, unlike a 503). Linking stays available
// so identities can be provisioned before the provider is switched on.
import { Type } from "typebox";
import type { FastifyBaseLogger } from "fastify";
import { apiKeySecurity, type App } from "../http/app-type.ts";
import { problemResponsesFor } from "../http/problem.ts";
import { ref, withExamples } from "../http/components.ts";
import type { AppGuards } from "../sessions/guards.ts";
import type { CookieTransport } from "../sessions/cookie-transport.ts";
import { LoginResultSchema, signInExamples, type LoginResult } from "../sign-in/schemas.ts";
import type { ProviderResolution } from "./provider.ts";
import type { FederatedService } from "./service.ts";
import { FederatedSignInBodySchema, LinkExternalIdentityBodySchema, UserIdParams } from "./schemas.ts";

export interface FederatedDeps {
  federated: FederatedService;
  guards: AppGuards;
  /** The per-address sign-in limit shared with password sign-in. */
  admitAddress: (ip: string) => Promise<void>;
  /** Cookie mode: where a session's refresh token goes. */
  transport: CookieTransport;
}

const noContent = { 204: Type.Null({ description: "Done" }) };

/** Says at start-up whether external sign-in is on, and warns about weak choices. */
export function announceProvider(log: FastifyBaseLogger, resolution: ProviderResolution) {
  if ("provider" in resolution) {
    const { name, issuer, algorithms, multiFactor } = resolution.provider;
    log.info({ provider: name, issuer, algorithms, multiFactor }, "external sign-in enabled");
    // ASVS Appendix C rates RSA PKCS#1 v1.5 signatures as deprecated.
    if (algorithms.some((a) => a.startsWith("RS"))) log.warn({ algorithms }, "FEDERATED_ALGORITHMS lists RS*; prefer PS256, ES256 or EdDSA");
  } else if (resolution.disabled.partlyConfigured) {
    log.warn({ missing: resolution.disabled.missing }, "external sign-in disabled: the provider is only partly configured");
  } else {
    log.info("external sign-in disabled: no provider configured");
  }
}

function registerSignIn(
  app: App,
  signIn: (assertion: string, log: FastifyBaseLogger) => Promise<LoginResult>,
  admitAddress: (ip: string) => Promise<void>,
  transport: CookieTransport,
) {
  app.post("/v1/auth/federated", {
    schema: {
      tags: ["Sign-in"],
      summary: "Sign in with an external identity provider (Mobile BankID)",
      description:
        "Takes the provider's signed assertion for a person whose external identity is linked. A multi-factor provider " +
        "(BankID) answers `authenticated` with amr [\"ext\", \"mfa\"]; a single-factor one continues like a password " +
        "(`mfa_required`), except that a person who would have to set up two-step verification is told to sign in with " +
        "the password (403 PASSWORD_SIGN_IN_REQUIRED). Any refused assertion, and an unlinked subject, gives one identical " +
        "401 INVALID_ASSERTION. 404 FEDERATED_SIGN_IN_DISABLED while no provider is configured; 503 when the provider's " +
        "keys cannot be fetched. Cookie mode (`x-session-transport: cookie`) as for login.",
      security: [],
      body: FederatedSignInBodySchema,
      response: {
        200: withExamples(ref(LoginResultSchema), signInExamples),
        ...problemResponsesFor("INVALID_ASSERTION", "PASSWORD_SIGN_IN_REQUIRED", "ACCOUNT_DISABLED", "FEDERATED_SIGN_IN_DISABLED", "RATE_LIMITED", "UNAVAILABLE"),
      },
    },
  }, async (request, reply) => {
    await admitAddress(request.ip);
    return transport.deliver(request, reply, await signIn(request.body.assertion, request.log));
  });
}

export function registerFederatedRoutes(app: App, deps: FederatedDeps): void {
  const { federated } = deps;
  registerSignIn(app, federated.signIn, deps.admitAddress, deps.transport);

  app.put("/v1/users/:id/external-identity", {
    preHandler: deps.guards.client("users:write"),
    schema: {
      tags: ["Users"],
      summary: "Link the user to their external identity (service clients with users:write)",
      description:
        "Sets the user's subject at the configured provider (FEDERATED_PROVIDER), replacing an earlier one. Repeating it is harmless. " +
        "409 EXTERNAL_IDENTITY_TAKEN when the subject belongs to another user; 404 for an unknown user.",
      security: apiKeySecurity,
      params: UserIdParams,
      body: LinkExternalIdentityBodySchema,
      response: { ...noContent, ...problemResponsesFor("INVALID_CLIENT", "INSUFFICIENT_SCOPE", "NOT_FOUND", "EXTERNAL_IDENTITY_TAKEN", "UNAVAILABLE") },
    },
  }, async (request, reply) => {
    await federated.link(request.params.id, request.body.subject);
    return reply.code(204).send(null);
  });

  app.delete("/v1/users/:id/external-identity", {
    preHandler: deps.guards.client("users:write"),
    schema: {
      tags: ["Users"],
      summary: "Unlink the user's external identity (service clients with users:write)",
      description: "The provider's assertions for that subject stop signing the user in. 404 when the user has no linked identity.",
      security: apiKeySecurity,
      params: UserIdParams,
      response: { ...noContent, ...problemResponsesFor("INVALID_CLIENT", "INSUFFICIENT_SCOPE", "NOT_FOUND", "UNAVAILABLE") },
    },
  }, async (request, reply) => {
    await federated.unlink(request.params.id);
    return reply.code(204).send(null);
  });
}
