// What the protocol checkers share: a loopback listener torn down with the
// test, a request-body reader, a log that keeps what it is told (so tests can
// check no address or token is logged), and a challenge message.
import type { Test } from "tap";
import type { AddressInfo, Server } from "node:net";
import type { IncomingMessage } from "node:http";
import { randomBytes } from "node:crypto";
import type { PushLog, PushMessage } from "../../../../src/push/delivery/sender.ts";

export async function listenOnLoopback(t: Test, server: Server & { closeAllConnections?: () => void }): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => {
    if (!server.listening) return;
    server.closeAllConnections?.();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as AddressInfo).port;
}

export function readBody(req: IncomingMessage | NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(Buffer.from(chunk)));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export interface LogEntry { level: "warn" | "info"; details: object; message: string }

export function recordingLog(): PushLog & { entries: LogEntry[]; text(): string } {
  const entries: LogEntry[] = [];
  return {
    entries,
    warn: (details, message) => { entries.push({ level: "warn", details, message }); },
    info: (details, message) => { entries.push({ level: "info", details, message }); },
    text: () => JSON.stringify(entries),
  };
}

/** A challenge like the push factor's: 128 random bits, 120 s to live (PUSH-ANCHORS §5.1). */
export function challenge(now: Date, lifeSeconds = 120): PushMessage {
  return { challengeId: randomBytes(16).toString("base64url"), expiresAt: new Date(now.getTime() + lifeSeconds * 1000) };
}

/** Answers scripted per request, then `fallback`: how a test makes a service fail once and recover. */
export function script<T>(answers: T[], fallback: T): () => T {
  return () => answers.shift() ?? fallback;
}
