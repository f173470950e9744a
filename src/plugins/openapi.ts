// The OpenAPI 3.1 document is generated from the route schemas (the same ones
// that validate requests and serialise responses) and served with a docs UI.
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { App } from "../http/app-type.ts";
import { API_KEY_HEADER } from "../http/guards.ts";

export const apiTags = [
  { name: "Sign-in", description: "Password and external sign-in, the second step, push approval" },
  { name: "Sessions", description: "Refreshing and ending sessions" },
  { name: "Tokens", description: "Verifying tokens: JWKS and introspection" },
  { name: "Me", description: "The signed-in person: profile, password, two-step verification, devices" },
  { name: "Authenticator app", description: "The authenticator app's own routes: pairing, pending challenges, signed answers" },
  { name: "Users", description: "User provisioning and support (service clients)" },
  { name: "Companies", description: "Companies, accounting offices and the mandatory 2SV policy" },
  { name: "Operations", description: "Health and metrics" },
];

export async function registerOpenApi(app: App, serverUrl: string) {
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Identity service",
        version: "1.0.0",
        description:
          "Headless authentication for the bookkeeping & invoicing suite: password sign-in, two-step verification, " +
          "trusted devices and company-wide mandatory 2SV. Every error is application/problem+json (RFC 9457) with a stable `code`.",
      },
      servers: [{ url: serverUrl }],
      tags: apiTags,
      components: {
        securitySchemes: {
          bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "A person's access token" },
          apiKey: { type: "apiKey", in: "header", name: API_KEY_HEADER, description: "A service client's API key (npm run cli -- clients create)" },
          appSignature: { type: "apiKey", in: "header", name: "x-app-signature", description: "A JWS by the paired authenticator app's registered key (see the route)" },
        },
      },
    },
    // Shared schemas ($id) become components named after their id.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === "string" ? json.$id : `def-${i}`) },
  });
  await app.register(swaggerUi, {
    routePrefix: "/docs",
    uiConfig: { docExpansion: "list", validatorUrl: null },
    // A Content-Security-Policy on the docs page: its own scripts and styles only
    // (hashes from the package), no framing by others (ASVS 3.4.3). Without
    // upgrade-insecure-requests, which would break the page on a plain-http development port.
    staticCSP: true,
    transformStaticCSP: (header: string) => header.replace(/\s*upgrade-insecure-requests;/, "").replace(" validator.swagger.io", ""),
  });
}
