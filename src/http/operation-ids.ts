// The operationId of every operation: part of the contract. Generated clients
// name their functions and types after these (openapi-typescript's `operations`,
// openapi-fetch call sites), so renaming one breaks every client that uses it:
// a rename is a breaking change (test/contract/breaking-changes.test.ts compares
// the document with the released openapi/v1.json). camelCase, a verb first.
// The document takes each route's id from here (plugins/openapi.ts); a route
// missing from this list, or an entry without a route, fails test/openapi.test.ts.
export const operationIds = {
  "POST /v1/auth/login": "login",
  "POST /v1/auth/federated": "signInFederated",
  "POST /v1/auth/mfa/verify": "verifySecondStep",
  "POST /v1/auth/mfa/push": "startPushChallenge",
  "GET /v1/auth/mfa/push/{challengeId}": "waitForPushAnswer",
  "POST /v1/auth/step-up": "stepUp",
  "POST /v1/auth/refresh": "refreshSession",
  "POST /v1/auth/logout": "logout",
  "POST /v1/tokens/introspect": "introspectToken",
  "GET /.well-known/jwks.json": "getJwks",
  "GET /v1/me": "getMe",
  "POST /v1/me/password": "changeMyPassword",
  "GET /v1/me/sessions": "listMySessions",
  "DELETE /v1/me/sessions": "endMyOtherSessions",
  "DELETE /v1/me/sessions/{id}": "endMySession",
  "POST /v1/me/mfa/totp": "startTotpEnrollment",
  "POST /v1/me/mfa/totp/confirm": "confirmTotpEnrollment",
  "DELETE /v1/me/mfa/totp": "turnOffTwoStep",
  "POST /v1/me/mfa/recovery-codes": "regenerateRecoveryCodes",
  "POST /v1/me/mfa/push-authenticators": "startPushPairing",
  "GET /v1/me/mfa/push-authenticators": "listPushAuthenticators",
  "POST /v1/me/mfa/push-authenticators/{pairingId}/confirm": "confirmPushPairing",
  "DELETE /v1/me/mfa/push-authenticators/{id}": "removePushAuthenticator",
  "GET /v1/me/devices": "listMyDevices",
  "DELETE /v1/me/devices": "revokeAllMyDevices",
  "DELETE /v1/me/devices/{id}": "revokeMyDevice",
  "GET /v1/me/audit-events": "listMyAuditEvents",
  "GET /v1/authenticator/web-push-key": "getWebPushKey",
  "POST /v1/authenticator/pairings": "completePushPairing",
  "GET /v1/authenticator/challenges": "listAppChallenges",
  "POST /v1/authenticator/challenges/{id}": "answerAppChallenge",
  "POST /v1/users": "createUser",
  "POST /v1/users/{id}/disable": "disableUser",
  "POST /v1/users/{id}/enable": "enableUser",
  "POST /v1/users/{id}/unlock": "unlockUserPassword",
  "DELETE /v1/users/{id}/mfa": "resetUserTwoStep",
  "GET /v1/users/{id}/security": "getUserSecurity",
  "PUT /v1/users/{id}/external-identity": "linkExternalIdentity",
  "DELETE /v1/users/{id}/external-identity": "unlinkExternalIdentity",
  "POST /v1/companies": "createCompany",
  "PUT /v1/companies/{id}/members/{userId}": "setCompanyMember",
  "DELETE /v1/companies/{id}/members/{userId}": "removeCompanyMember",
  "PUT /v1/companies/{officeId}/clients/{clientId}": "addOfficeClient",
  "DELETE /v1/companies/{officeId}/clients/{clientId}": "removeOfficeClient",
  "PUT /v1/companies/{officeId}/clients/{clientId}/assignees/{userId}": "addClientAssignee",
  "DELETE /v1/companies/{officeId}/clients/{clientId}/assignees/{userId}": "removeClientAssignee",
  "GET /v1/companies/{id}/security-policy": "getSecurityPolicy",
  "PUT /v1/companies/{id}/security-policy": "setSecurityPolicy",
  "GET /v1/companies/{id}/security-policy/impact": "getSecurityPolicyImpact",
  "GET /v1/companies/{id}/audit-events": "listCompanyAuditEvents",
  "GET /health/live": "getLiveness",
  "GET /health/ready": "getReadiness",
  "GET /metrics": "getMetrics",
} as const satisfies Record<string, string>;

export type OperationKey = keyof typeof operationIds;

/** "METHOD /path/{param}" of a Fastify route (its url uses :param). */
export function operationKey(method: string, fastifyUrl: string): string {
  return `${method.toUpperCase()} ${fastifyUrl.replace(/:([A-Za-z0-9_]+)/g, "{$1}")}`;
}

export function operationIdOf(method: string, fastifyUrl: string): string | undefined {
  return (operationIds as Record<string, string>)[operationKey(method, fastifyUrl)];
}
