// pino, with every credential-bearing field redacted wherever it appears in a
// log object (ASVS 16.2.5; checklist SR-05). Request bodies are never logged, and
// request URLs are logged without their query string: a token a client wrongly
// put in the URL is refused (app.ts) and must not reach the log either.
import { pino, type DestinationStream, type Logger } from "pino";

// "code" is redacted only at the top level of a log object, where a one-time
// code would sit: nested, it is the diagnostic code of an error (err.code:
// P2002, ECONNREFUSED), which operators need (redact values, not diagnostics).
const secretKeys = [
  "password", "currentPassword", "newPassword", "secret", "token", "refreshToken", "accessToken",
  "mfaToken", "deviceToken", "enrollmentToken", "apiKey", "assertion", "otpauthUri", "qrSvg", "recoveryCode", "recoveryCodes",
];

export const redactPaths = [
  "req.headers.authorization",
  'req.headers["x-api-key"]',
  "req.headers.cookie",
  "code",
  ...secretKeys,
  ...secretKeys.map((k) => `*.${k}`),
];

/** The path of a URL, its query string replaced by a marker when there was one. */
export function pathOnly(url: string): string {
  const at = url.indexOf("?");
  return at < 0 ? url : `${url.slice(0, at)}?[redacted]`;
}

type RequestLike = { method?: string; url?: string; host?: string; hostname?: string; ip?: string; socket?: { remotePort?: number } };

const serializers = {
  req: (request: RequestLike) => ({
    method: request.method,
    url: pathOnly(request.url ?? ""),
    host: request.host ?? request.hostname,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  }),
};

export function createLogger(level: string, stream?: DestinationStream): Logger {
  const options = { level, redact: { paths: redactPaths, censor: "[redacted]" }, serializers };
  return stream ? pino(options, stream) : pino(options);
}
