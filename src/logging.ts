// pino, with every credential-bearing field redacted wherever it appears in a
// log object (ASVS 16.2.5; checklist SR-05). Request bodies are never logged.
import { pino, type DestinationStream, type Logger } from "pino";

const secretKeys = [
  "password", "currentPassword", "newPassword", "code", "secret", "token", "refreshToken", "accessToken",
  "mfaToken", "deviceToken", "enrollmentToken", "apiKey", "assertion", "otpauthUri", "qrSvg", "recoveryCode", "recoveryCodes",
];

export const redactPaths = [
  "req.headers.authorization",
  'req.headers["x-api-key"]',
  "req.headers.cookie",
  ...secretKeys,
  ...secretKeys.map((k) => `*.${k}`),
];

export function createLogger(level: string, stream?: DestinationStream): Logger {
  const options = { level, redact: { paths: redactPaths, censor: "[redacted]" } };
  return stream ? pino(options, stream) : pino(options);
}
