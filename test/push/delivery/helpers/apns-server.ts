// A local APNs provider endpoint over HTTP/2 (h2c on 127.0.0.1) that checks
// what Apple checks: an ES256 provider token signed by the team's key with
// the expected kid and iss, at most 1 h old, and the request headers. A bad
// token gets 403 as from Apple; scripted answers stand in for the rest.
import type { Test } from "tap";
import { createServer, type IncomingHttpHeaders, type ServerHttp2Session } from "node:http2";
import { decodeProtectedHeader, jwtVerify, type CryptoKey, type KeyObject } from "jose";
import type { Clock } from "../../../../src/lib/clock.ts";
import { listenOnLoopback, readBody, script } from "./common.ts";

export interface ApnsExpectations {
  publicKey: CryptoKey | KeyObject;
  teamId: string;
  keyId: string;
  topic: string;
  clock: Clock;
}

export interface ApnsRequest {
  path: string;
  headers: IncomingHttpHeaders;
  payload: Record<string, unknown>;
  token: string;
  iat: number;
  problems: string[];
}

export interface ApnsAnswer { status: number; reason?: string }

async function checkToken(headers: IncomingHttpHeaders, expect: ApnsExpectations, problems: string[]) {
  const token = /^bearer (.+)$/.exec(String(headers.authorization ?? ""))?.[1] ?? "";
  try {
    const { payload } = await jwtVerify(token, expect.publicKey, { algorithms: ["ES256"], issuer: expect.teamId, requiredClaims: ["iat"], currentDate: expect.clock.now() });
    if (decodeProtectedHeader(token).kid !== expect.keyId) problems.push("kid is not the key id");
    if (expect.clock.now().getTime() / 1000 - payload.iat! > 3600) problems.push("ExpiredProviderToken");
    return { token, iat: payload.iat! };
  } catch (error) {
    problems.push(`InvalidProviderToken: ${(error as Error).message}`);
    return { token, iat: 0 };
  }
}

function checkHeaders(headers: IncomingHttpHeaders, expect: ApnsExpectations, problems: string[]) {
  if (headers[":method"] !== "POST") problems.push("not POST");
  if (!/^\/3\/device\/[0-9a-f]+$/i.test(String(headers[":path"]))) problems.push("path is not /3/device/<hex token>");
  if (headers["apns-topic"] !== expect.topic) problems.push("BadTopic");
  if (headers["apns-push-type"] !== "alert") problems.push("apns-push-type is not alert");
  if (headers["apns-priority"] !== "10") problems.push("apns-priority is not 10");
  if (!/^\d+$/.test(String(headers["apns-expiration"]))) problems.push("apns-expiration is not unix seconds");
  if (Buffer.byteLength(String(headers["apns-collapse-id"] ?? "")) > 64) problems.push("BadCollapseId");
}

export async function startApnsServer(t: Test, expect: ApnsExpectations, answers: ApnsAnswer[] = [], options: { hang?: boolean } = {}) {
  const requests: ApnsRequest[] = [];
  const sessions = new Set<ServerHttp2Session>();
  const nextAnswer = script<ApnsAnswer>(answers, { status: 200 });
  const server = createServer();
  server.on("session", (session) => { sessions.add(session); });
  server.on("stream", async (stream, headers) => {
    const body = await readBody(stream);
    const problems: string[] = [];
    const { token, iat } = await checkToken(headers, expect, problems);
    checkHeaders(headers, expect, problems);
    let payload: Record<string, unknown> = {};
    try {
      payload = JSON.parse(body.toString("utf8"));
    } catch {
      problems.push("payload is not JSON");
    }
    requests.push({ path: String(headers[":path"]), headers, payload, token, iat, problems });
    if (options.hang) return;
    const answer = problems.length > 0 ? { status: problems.some((p) => /Token/.test(p)) ? 403 : 400, reason: problems[0] } : nextAnswer();
    stream.respond({ ":status": answer.status, "content-type": "application/json" });
    stream.end(answer.status === 200 ? "" : JSON.stringify({ reason: answer.reason }));
  });
  // An open session would keep server.close waiting for the client.
  const closeAllConnections = () => { for (const session of sessions) session.destroy(); };
  const port = await listenOnLoopback(t, Object.assign(server, { closeAllConnections }));
  return { baseUrl: `http://127.0.0.1:${port}`, requests, sessions: () => sessions.size };
}
