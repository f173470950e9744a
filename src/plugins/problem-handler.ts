// The single error handler: every error leaves as application/problem+json with a
// stable code. 4xx titles are public; 5xx details stay in the log (ASVS 16.5.1).
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AppError, errorCatalogue, type ErrorCode } from "../errors.ts";
import type { Problem } from "../http/problem.ts";
import { HasherAbandonedError, HasherBusyError } from "../lib/passwords.ts";

/** Fastify's own error codes that are the client's doing, mapped onto ours. */
const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: "BODY_TOO_LARGE",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "VALIDATION_FAILED",
  FST_ERR_CTP_EMPTY_JSON_BODY: "VALIDATION_FAILED",
  FST_ERR_CTP_INVALID_JSON_BODY: "VALIDATION_FAILED",
};

// Prisma's codes for "the database cannot be reached or has no connection for us"
// (P1001 unreachable, P1002 timed out, P1008 operation timeout, P1017 connection
// closed, P2024 pool timeout), and the driver adapter's kinds of the same.
const UNAVAILABLE_PRISMA_CODES = new Set(["P1001", "P1002", "P1008", "P1017", "P2024"]);
const UNAVAILABLE_DRIVER_KINDS = new Set(["DatabaseNotReachable", "DatabaseDoesNotExist", "SocketTimeout", "TooManyConnections", "ConnectionClosed"]);
// node-postgres's own words when the pool has no free connection in time, or loses one.
const UNAVAILABLE_POOL_MESSAGES = /timeout exceeded when trying to connect|Connection terminated|connect ECONNREFUSED/;
// PostgreSQL's SQLSTATE classes for a server going away under a running statement:
// 57P01 admin_shutdown (pg_ctl stop, a failover), 57P02 crash_shutdown, 57P03
// cannot_connect_now (starting up or shutting down), and class 08, connection exception
// (PostgreSQL docs, Appendix A). Prisma passes them on as a driver error of kind "postgres".
const UNAVAILABLE_SQLSTATES = /^(57P0[123]|08[0-9A-Z]{3})$/;
const DATABASE_RETRY_SECONDS = 2;

/** A database that is down, or a pool with no free connection: the client should retry soon (checklist AV-04, AV-05). */
export function isDatabaseUnavailable(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown; meta?: { driverAdapterError?: { cause?: { kind?: unknown; code?: unknown } } } } | null;
  if (!e || typeof e !== "object") return false;
  if (typeof e.code === "string" && (UNAVAILABLE_PRISMA_CODES.has(e.code) || UNAVAILABLE_SQLSTATES.test(e.code))) return true;
  const cause = e.meta?.driverAdapterError?.cause;
  if (typeof cause?.kind === "string" && UNAVAILABLE_DRIVER_KINDS.has(cause.kind)) return true;
  if (cause?.kind === "postgres" && typeof cause.code === "string" && UNAVAILABLE_SQLSTATES.test(cause.code)) return true;
  return typeof e.message === "string" && UNAVAILABLE_POOL_MESSAGES.test(e.message);
}

function toAppError(error: FastifyError): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof HasherBusyError) return new AppError("SERVICE_BUSY", { retryAfterSeconds: 1 });
  // Its client hung up while it waited for a hash: nobody reads this answer.
  if (error instanceof HasherAbandonedError) return new AppError("SERVICE_BUSY", { retryAfterSeconds: 1, logReason: "caller_gone" });
  if (isDatabaseUnavailable(error)) return new AppError("UNAVAILABLE", { retryAfterSeconds: DATABASE_RETRY_SECONDS, logReason: "database_unavailable" });
  if (error.validation) return new AppError("VALIDATION_FAILED");
  const mapped = error.code ? fastifyCodes[error.code] : undefined;
  if (mapped) return new AppError(mapped);
  // Malformed JSON and prototype-poisoning bodies arrive as 400 SyntaxErrors.
  if (error.statusCode === 400) return new AppError("VALIDATION_FAILED", { detail: "The body is not valid JSON." });
  return new AppError("INTERNAL");
}

function validationErrors(error: FastifyError): Problem["errors"] {
  return error.validation?.map((v) => ({
    path: `${error.validationContext ?? "body"}${v.instancePath}`,
    message: v.message ?? "invalid",
  }));
}

export function sendProblem(reply: FastifyReply, request: FastifyRequest, appError: AppError, errors?: Problem["errors"]) {
  const { retryAfterSeconds, detail } = appError.options;
  if (retryAfterSeconds !== undefined) reply.header("retry-after", String(retryAfterSeconds));
  const body: Problem = {
    type: "about:blank",
    title: errorCatalogue[appError.code].title,
    status: appError.status,
    code: appError.code,
    instance: request.id,
    ...(detail ? { detail } : {}),
    ...(errors ? { errors } : {}),
    ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
  };
  return reply.code(appError.status).type("application/problem+json; charset=utf-8").serializer(JSON.stringify).send(body);
}

/**
 * Errors Fastify's router raises before any route or hook runs (a path parameter over
 * maxParamLength, a URL that is not valid percent-encoding, or an async route constraint that fails: none is used today):
 * by default Fastify answers them in its own JSON shape with the whole URL echoed back
 * (query string included). Passed as Fastify's `frameworkErrors` option, they get the
 * same problem+json as every other refusal and never echo the URL.
 */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const appError = error.code === "FST_ERR_MAX_PARAM_LENGTH"
    ? new AppError("URI_TOO_LONG")
    : error.code === "FST_ERR_BAD_URL"
      ? new AppError("VALIDATION_FAILED", { detail: "The URL is not valid percent-encoded UTF-8." })
      : new AppError("INTERNAL");
  if (appError.status >= 500) request.log.error({ errorCode: appError.code, reason: error.code }, "router error");
  else request.log.info({ errorCode: appError.code, reason: error.code }, "request refused");
  return sendProblem(reply, request, appError);
}

/** Told of every refusal before it is sent (the audit log hears every 429 here: LA-01). */
export type RefusalListener = (request: FastifyRequest, error: AppError) => Promise<void>;

/** Returns a setter: the listener is wired later, once the audit log exists. */
export function registerProblemHandler(app: FastifyInstance) {
  let onRefusal: RefusalListener = async () => {};
  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    const appError = toAppError(error);
    if (appError.status < 500) {
      try {
        await onRefusal(request, appError);
      } catch (listenerError) {
        request.log.error({ err: listenerError }, "refusal listener failed");
      }
    }
    if (appError.status >= 500 && appError.code === "INTERNAL") {
      request.log.error({ err: error }, "unhandled error");
    } else if (appError.options.logReason === "database_unavailable") {
      request.log.warn({ errorCode: appError.code, errorName: (error as Error).name, driverCode: (error as { code?: string }).code }, "database unavailable");
    } else {
      // errorCode, not code: "code" is redacted everywhere as a possible one-time code.
      request.log.info({ errorCode: appError.code, reason: appError.options.logReason }, "request refused");
    }
    return sendProblem(reply, request, appError, error.validation ? validationErrors(error) : undefined);
  });
  app.setNotFoundHandler((request, reply) => sendProblem(reply, request, new AppError("NOT_FOUND")));
  return { onRefusal: (listener: RefusalListener) => { onRefusal = listener; } };
}
