// What a person needs to decide on a push: when, from which client address and
// browser/OS (from the sign-in request), for which service. The app echoes a
// SHA-256 of exactly this context in its signed answer, so an answer given to
// something else (a different sign-in, an altered list) changes nothing.
import { createHash } from "node:crypto";
import type { PushChallengeRecord } from "./challenge-repository.ts";

const BROWSERS: [RegExp, string][] = [[/Edg\//, "Edge"], [/OPR\//, "Opera"], [/Firefox\//, "Firefox"], [/Chrome\//, "Chrome"], [/Safari\//, "Safari"], [/curl\//, "curl"]];
const SYSTEMS: [RegExp, string][] = [[/Windows/, "Windows"], [/iPhone|iPad/, "iOS"], [/Android/, "Android"], [/Mac OS X|Macintosh/, "macOS"], [/Linux/, "Linux"]];

const firstMatch = (ua: string, table: [RegExp, string][]) => table.find(([pattern]) => pattern.test(ua))?.[1] ?? null;

export interface ChallengeContext {
  service: string;
  requestedAt: string;
  expiresAt: string;
  clientAddress: string | null;
  browser: string | null;
  os: string | null;
}

export function contextOf(row: PushChallengeRecord, service: string): ChallengeContext {
  const ua = row.userAgent ?? "";
  return {
    service,
    requestedAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt.toISOString(),
    clientAddress: row.clientAddress,
    browser: firstMatch(ua, BROWSERS),
    os: firstMatch(ua, SYSTEMS),
  };
}

/** SHA-256 (base64url) of the context's JSON in this fixed key order: what the app signs as `ctx`. */
export function contextHash(context: ChallengeContext): string {
  const ordered = [context.service, context.requestedAt, context.expiresAt, context.clientAddress, context.browser, context.os];
  return createHash("sha256").update(JSON.stringify(ordered)).digest("base64url");
}
