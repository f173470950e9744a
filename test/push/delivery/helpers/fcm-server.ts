// A local FCM: an OAuth 2.0 token endpoint that verifies the service-account
// assertion (RFC 7523 §3: RS256 under the account's public key, iss =
// client_email, aud = this token URL, exp at most 1 h after iat, the
// firebase.messaging scope) and answers an access token with expires_in, and
// the HTTP v1 send endpoint, which takes only a token it issued.
import type { Test } from "tap";
import { createServer } from "node:http";
import { randomBytes } from "node:crypto";
import { jwtVerify, type CryptoKey, type KeyObject } from "jose";
import type { Clock } from "../../../../src/lib/clock.ts";
import { FCM_SCOPE, JWT_BEARER_GRANT } from "../../../../src/push/delivery/fcm.ts";
import { listenOnLoopback, readBody, script } from "./common.ts";

export interface FcmExpectations {
  publicKey: CryptoKey | KeyObject;
  clientEmail: string;
  projectId: string;
  clock: Clock;
  expiresInSeconds: number;
}

export interface FcmSend { authorization: string; message: Record<string, unknown>; problems: string[] }
export interface FcmAnswer { status: number; errorCode?: string }

const json = (status: number, body: unknown) => ({ status, body: JSON.stringify(body) });

export async function startFcmServer(t: Test, expect: FcmExpectations, answers: FcmAnswer[] = [], options: { hang?: boolean } = {}) {
  const issued = new Set<string>();
  const exchanges: string[][] = [];
  const sends: FcmSend[] = [];
  const nextAnswer = script<FcmAnswer>(answers, { status: 200 });

  async function token(body: string) {
    const form = new URLSearchParams(body);
    const problems: string[] = [];
    if (form.get("grant_type") !== JWT_BEARER_GRANT) problems.push("grant_type is not jwt-bearer");
    try {
      const { payload } = await jwtVerify(form.get("assertion") ?? "", expect.publicKey, {
        algorithms: ["RS256"], issuer: expect.clientEmail, audience: tokenUrl, currentDate: expect.clock.now(), requiredClaims: ["iat", "exp"],
      });
      if (payload.exp! - payload.iat! > 3600) problems.push("exp more than 1 h after iat");
      if (payload.scope !== FCM_SCOPE) problems.push("scope is not firebase.messaging");
    } catch (error) {
      problems.push(`assertion refused: ${(error as Error).message}`);
    }
    exchanges.push(problems);
    if (problems.length > 0) return json(400, { error: "invalid_grant" });
    const accessToken = randomBytes(24).toString("base64url");
    issued.add(accessToken);
    return json(200, { access_token: accessToken, expires_in: expect.expiresInSeconds, token_type: "Bearer" });
  }

  function send(authorization: string, body: string) {
    const problems: string[] = [];
    const message = (JSON.parse(body) as { message?: Record<string, unknown> }).message ?? {};
    if (!issued.has(authorization.replace(/^Bearer /, ""))) problems.push("bearer token not issued here");
    if (typeof message.token !== "string") problems.push("no registration token");
    if (!/^\d+s$/.test(String((message.android as { ttl?: unknown } | undefined)?.ttl))) problems.push("android.ttl is not a duration");
    sends.push({ authorization, message, problems });
    if (problems.length > 0) return json(problems[0]!.startsWith("bearer") ? 401 : 400, { error: { status: "INVALID_ARGUMENT" } });
    const answer = nextAnswer();
    if (answer.status === 200) return json(200, { name: `projects/${expect.projectId}/messages/${randomBytes(6).toString("hex")}` });
    const details = answer.errorCode ? [{ "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", errorCode: answer.errorCode }] : [];
    return json(answer.status, { error: { code: answer.status, status: answer.status === 404 ? "NOT_FOUND" : "UNAVAILABLE", details } });
  }

  const server = createServer(async (req, res) => {
    const body = (await readBody(req)).toString("utf8");
    if (options.hang) return void exchanges.push([]);
    const answer = req.method === "POST" && req.url === "/token"
      ? await token(body)
      : req.method === "POST" && req.url === `/v1/projects/${expect.projectId}/messages:send`
        ? send(String(req.headers.authorization ?? ""), body)
        : json(404, { error: { status: "NOT_FOUND" } });
    res.writeHead(answer.status, { "content-type": "application/json" }).end(answer.body);
  });
  const port = await listenOnLoopback(t, server);
  const baseUrl = `http://127.0.0.1:${port}`;
  const tokenUrl = `${baseUrl}/token`;
  return { baseUrl, tokenUrl, exchanges, sends };
}
