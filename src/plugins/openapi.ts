// The OpenAPI 3.1 document is generated from the route schemas (the same ones
// that validate requests and serialise responses) and served with a docs UI.
// What only the document needs is added here, from the route definitions and the
// conventions every route shares: the operationId (http/operation-ids.ts), the
// conventional problem codes merged into each route's own (http/problem.ts), the
// x-request-id header of every answer and Retry-After of every 429 and 503.
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifySchema } from "fastify";
import type { App } from "../http/app-type.ts";
import { API_KEY_HEADER } from "../http/guards.ts";
import { operationIdOf } from "../http/operation-ids.ts";
import { withConventionalProblems } from "../http/problem.ts";
import { componentSchemas } from "../http/components.ts";

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

/** The major version of the contract; a breaking change needs a new one (see README, "Contract"). */
export const API_VERSION = "1.0.0";

const REQUEST_ID_HEADER = {
  "x-request-id": { type: "string", format: "uuid", description: "This request's id: the problem's `instance` and the log's reqId" },
};
// RFC 9110 §10.2.3: delay-seconds. Sent with every 429 and 503 that knows how long to wait.
const RETRY_AFTER_HEADER = {
  "Retry-After": { type: "integer", minimum: 0, description: "Seconds to wait before retrying (RFC 9110 §10.2.3)" },
};

type RouteSchema = FastifySchema & { response?: Record<string, unknown>; operationId?: string; produces?: string[] };

/**
 * A response with named examples (http/components.ts withExamples) in the
 * content form, where the examples belong: on the media type, beside the schema
 * (a $ref schema would otherwise lose them).
 */
function withMediaExamples(entry: unknown, produces: string[]): unknown {
  const { "x-examples": examples, ...schema } = entry as Record<string, unknown>;
  if (examples === undefined || "content" in schema) return entry;
  const named = typeof schema.$ref === "string" ? componentSchemas().find((s) => (s as { $id?: string }).$id === schema.$ref) : undefined;
  const description = schema.description ?? (named as { description?: string } | undefined)?.description;
  return { description, content: Object.fromEntries(produces.map((type) => [type, { schema, examples }])) };
}

/** The route schema as the document shows it; the route's own schema object is left untouched. */
export function documentedSchema(method: string, url: string, schema: RouteSchema | undefined): RouteSchema | undefined {
  if (!schema) return schema;
  const operationId = operationIdOf(method, url);
  const response: Record<string, unknown> = {};
  for (const [status, entry] of Object.entries(withConventionalProblems(method, url, schema))) {
    const headers = status === "429" || status === "503" ? { ...REQUEST_ID_HEADER, ...RETRY_AFTER_HEADER } : REQUEST_ID_HEADER;
    response[status] = { ...(withMediaExamples(entry, schema.produces ?? ["application/json"]) as object), headers };
  }
  return { ...schema, ...(operationId ? { operationId } : {}), response };
}

// Who answers for the contract: the frontend teams' contact (design/PRODUCT.md).
const CONTACT = { name: "Identity service team" };

export async function registerOpenApi(app: App) {
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Identity service",
        version: API_VERSION,
        description:
          "Headless authentication for the bookkeeping & invoicing suite: password sign-in, two-step verification, " +
          "trusted devices and company-wide mandatory 2SV. Every error is application/problem+json (RFC 9457) with a stable `code`; " +
          "each operation lists the codes it can answer.",
        contact: CONTACT,
        license: { name: "MIT", identifier: "MIT" },
      },
      // Relative: "Try it out" in the docs UI calls the instance that serves it, whatever its host and port.
      servers: [{ url: "/", description: "The instance serving this document" }],
      tags: apiTags,
      components: {
        securitySchemes: {
          bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "A person's access token (or, where a route says so, an MFA or enrollment token)" },
          apiKey: { type: "apiKey", in: "header", name: API_KEY_HEADER, description: "A service client's API key (npm run cli -- clients create)" },
          appSignature: { type: "apiKey", in: "header", name: "x-app-signature", description: "A JWS by the paired authenticator app's registered key (see the route)" },
        },
      },
    },
    transform: ({ schema, url, route }) => {
      const method = Array.isArray(route.method) ? route.method[0]! : route.method;
      return { schema: documentedSchema(method, url, schema as RouteSchema) as typeof schema, url };
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
