// Cookie mode, for pages in a browser. OAuth 2.0 for Browser-Based Apps (IETF
// draft, §6.2/§8) keeps refresh tokens out of reach of page scripts: in cookie
// mode the refresh token travels only in an HttpOnly; Secure; SameSite=Strict
// cookie with a __Host- name (RFC 6265bis §4.1.3.2: host-only, path /, Secure),
// and the JSON carries the short access token alone. Mobile apps and services
// keep the token in the JSON: it is the default.
//
// A client chooses cookie mode per request with `x-session-transport: cookie`.
// That header is also the CSRF defence that does not rest on the cookie: a form
// or a plain link cannot send a custom header, a cross-origin fetch that sends
// one needs a CORS preflight only allowed origins pass, and every cookie-mode
// request must carry an Origin on the allow-list besides (OWASP CSRF Cheat Sheet:
// custom request headers, and verifying the origin with standard headers). The
// cookie is read on no request without that header.
import cookie from "@fastify/cookie";
import type { FastifyReply, FastifyRequest } from "fastify";
import { AppError } from "../errors.ts";
import type { App } from "../http/app-type.ts";
import { originAllowed } from "../http/cors.ts";

export const SESSION_TRANSPORT_HEADER = "x-session-transport";
export const REFRESH_COOKIE = "__Host-refresh_token";

export interface CookieTransportSettings {
  allowedOrigins: readonly string[];
  /** The cookie's Max-Age: a session never outlives its absolute timeout. */
  maxAgeSeconds: number;
}

type WithRefreshToken = { refreshToken?: string };

/** Where an answer carries its refresh token: at the top (login, verify, refresh) or in `session` (enrollment confirmation). */
function tokenHolderOf(result: unknown): WithRefreshToken | null {
  if (typeof result !== "object" || result === null) return null;
  if (typeof (result as WithRefreshToken).refreshToken === "string") return result as WithRefreshToken;
  const nested = (result as { session?: unknown }).session;
  return typeof nested === "object" && nested !== null && typeof (nested as WithRefreshToken).refreshToken === "string" ? nested as WithRefreshToken : null;
}

export async function registerCookieTransport(app: App, settings: CookieTransportSettings) {
  await app.register(cookie);

  /** Whether the request chose cookie mode. */
  const cookieMode = (request: FastifyRequest) => request.headers[SESSION_TRANSPORT_HEADER] !== undefined;

  // Before any work is done: a cookie-mode request from anywhere but an allowed
  // origin (or with no Origin at all) is refused, whatever the route.
  app.addHook("onRequest", async (request) => {
    const mode = request.headers[SESSION_TRANSPORT_HEADER];
    if (mode === undefined) return;
    if (mode !== "cookie") throw new AppError("VALIDATION_FAILED", { detail: `${SESSION_TRANSPORT_HEADER} must be "cookie" when present.` });
    if (!originAllowed(settings.allowedOrigins, request.headers.origin)) throw new AppError("ORIGIN_NOT_ALLOWED");
  });

  function setRefreshCookie(reply: FastifyReply, token: string) {
    reply.setCookie(REFRESH_COOKIE, token, { httpOnly: true, secure: true, sameSite: "strict", path: "/", maxAge: settings.maxAgeSeconds });
  }

  return {
    cookieMode,

    /**
     * The one line a route that signs someone in adds around its answer: in
     * cookie mode the refresh token moves from the JSON into the cookie.
     */
    deliver<T>(request: FastifyRequest, reply: FastifyReply, result: T): T {
      const holder = cookieMode(request) ? tokenHolderOf(result) : null;
      if (!holder?.refreshToken) return result;
      setRefreshCookie(reply, holder.refreshToken);
      delete holder.refreshToken;
      return result;
    },

    /** The refresh token a cookie-mode request carries in its cookie, or null. */
    cookieToken(request: FastifyRequest): string | null {
      const value = cookieMode(request) ? request.cookies[REFRESH_COOKIE] : undefined;
      return value ? value : null;
    },

    /** Ends the cookie at sign-out (Max-Age=0, same attributes). */
    clear(reply: FastifyReply) {
      reply.clearCookie(REFRESH_COOKIE, { httpOnly: true, secure: true, sameSite: "strict", path: "/" });
    },
  };
}

export type CookieTransport = Awaited<ReturnType<typeof registerCookieTransport>>;
