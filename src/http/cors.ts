// CORS for browser frontends on other origins (the Fetch standard's CORS
// protocol). Only origins on an exact allow-list are answered, with credentials
// (the refresh cookie of cookie mode), so never with a wildcard: a page on any
// other origin gets no CORS header at all and its browser withholds the answer;
// its preflight is not answered either, so it cannot send JSON or a custom header.
import cors from "@fastify/cors";
import type { App } from "./app-type.ts";

export const CORS_METHODS = ["GET", "POST", "PUT", "DELETE"];
const REQUEST_HEADERS = ["authorization", "content-type"];
// Readable by page scripts: the request id (for support) and how long to wait after 429/503.
const EXPOSED_HEADERS = ["x-request-id", "retry-after"];
const PREFLIGHT_MAX_AGE_SECONDS = 600;

export async function registerCors(app: App, settings: { allowedOrigins: readonly string[]; extraRequestHeaders?: readonly string[] }) {
  const allowed = new Set(settings.allowedOrigins);
  await app.register(cors, {
    // Reflects an allowed origin exactly; false for others means no CORS headers and no preflight answer.
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin) ? origin : false),
    credentials: true,
    methods: CORS_METHODS,
    allowedHeaders: [...REQUEST_HEADERS, ...(settings.extraRequestHeaders ?? [])],
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: PREFLIGHT_MAX_AGE_SECONDS,
    strictPreflight: true,
  });
}

/** Whether a request's Origin header names an allowed origin. */
export function originAllowed(allowedOrigins: readonly string[], origin: string | undefined): boolean {
  return origin !== undefined && allowedOrigins.includes(origin);
}
