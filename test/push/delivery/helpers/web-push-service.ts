// A local Web Push service (RFC 8030 §5) over HTTPS with a certificate made
// for this test alone. For every push it checks what a real service checks:
// the VAPID JWT (RFC 8292 §2: ES256 under the key in `k`, aud = the
// endpoint's origin, exp in the future and within 24 h), the advertised key,
// the RFC 8030 headers, and it decrypts the aes128gcm body (RFC 8291 §3.4,
// RFC 8188 §2) as the browser would, with the subscription's private key.
import type { Test } from "tap";
import { createDecipheriv, createECDH, hkdfSync, randomBytes, randomUUID, type ECDH } from "node:crypto";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { Agent, createServer, type ServerOptions } from "node:https";
import type { IncomingHttpHeaders } from "node:http";
import { importJWK, jwtVerify } from "jose";
import { listenOnLoopback, readBody, script } from "./common.ts";

/** A self-signed certificate for 127.0.0.1, made with the openssl CLI in the test's own directory. */
export function loopbackCertificate(dir: string): { key: string; cert: string } {
  const key = path.join(dir, "key.pem");
  const cert = path.join(dir, "cert.pem");
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert,
  ], { stdio: "ignore" });
  return { key: readFileSync(key, "utf8"), cert: readFileSync(cert, "utf8") };
}

/** RFC 8291 §3.3-3.4, the user agent's side: ECDH + HKDF to the content key, then one aes128gcm record. */
export function decryptAes128gcm(body: Buffer, receiver: ECDH, authSecret: Buffer): Buffer {
  const salt = body.subarray(0, 16);
  const recordSize = body.readUInt32BE(16);
  const idLength = body[20]!;
  const senderPublic = body.subarray(21, 21 + idLength);
  const record = body.subarray(21 + idLength);
  if (record.length > recordSize) throw new Error("more than one record");
  const keyInfo = Buffer.concat([Buffer.from("WebPush: info\0"), receiver.getPublicKey(), senderPublic]);
  const ikm = Buffer.from(hkdfSync("sha256", receiver.computeSecret(senderPublic), authSecret, keyInfo, 32));
  const cek = Buffer.from(hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: aes128gcm\0"), 16));
  const nonce = Buffer.from(hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: nonce\0"), 12));
  const decipher = createDecipheriv("aes-128-gcm", cek, nonce);
  decipher.setAuthTag(record.subarray(-16));
  const padded = Buffer.concat([decipher.update(record.subarray(0, -16)), decipher.final()]);
  // RFC 8188 §2: the plaintext ends with delimiter 0x02 (last record), then zero padding.
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (padded[end] !== 0x02) throw new Error("no last-record delimiter");
  return padded.subarray(0, end);
}

export interface ReceivedPush {
  headers: IncomingHttpHeaders;
  claims: Record<string, unknown>;
  plaintext: string;
  problems: string[];
}

async function checkVapid(headers: IncomingHttpHeaders, origin: string, advertisedKey: string, problems: string[]) {
  const match = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(headers.authorization ?? "");
  if (!match) return problems.push("no RFC 8292 §3 vapid authorization"), {};
  const [, jwt, k] = match;
  if (k !== advertisedKey) problems.push("k is not the advertised VAPID key");
  const point = Buffer.from(k!, "base64url");
  const key = await importJWK({ kty: "EC", crv: "P-256", x: point.subarray(1, 33).toString("base64url"), y: point.subarray(33).toString("base64url") }, "ES256");
  try {
    const { payload } = await jwtVerify(jwt!, key, { algorithms: ["ES256"], audience: origin, requiredClaims: ["exp", "sub"] });
    if (payload.exp! - Date.now() / 1000 > 24 * 3600) problems.push("exp more than 24 h ahead");
    if (!/^(mailto:|https:)/.test(String(payload.sub))) problems.push("sub is not mailto: or https:");
    return payload as Record<string, unknown>;
  } catch (error) {
    problems.push(`VAPID JWT refused: ${(error as Error).message}`);
    return {};
  }
}

function checkHeaders(headers: IncomingHttpHeaders, problems: string[]) {
  if (!/^\d+$/.test(String(headers.ttl))) problems.push("TTL missing (RFC 8030 §5.2)");
  if (headers["content-encoding"] !== "aes128gcm") problems.push("content-encoding is not aes128gcm");
  if (headers.topic !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(String(headers.topic))) problems.push("topic breaks RFC 8030 §5.4");
}

/** Starts the service; `answer` picks each push's status (default 201 Created, RFC 8030 §5). */
export async function startWebPushService(t: Test, vapidPublicKey: string, answers: number[] = [], options: { hang?: boolean } = {}) {
  const tls: ServerOptions = loopbackCertificate(t.testdir());
  const received: ReceivedPush[] = [];
  const subscribers = new Map<string, { receiver: ECDH; authSecret: Buffer }>();
  const nextStatus = script(answers, 201);
  const server = createServer(tls, async (req, res) => {
    const body = await readBody(req);
    if (options.hang) return void received.push({ headers: req.headers, claims: {}, plaintext: "", problems: [] });
    const problems: string[] = [];
    const claims = await checkVapid(req.headers, origin, vapidPublicKey, problems);
    checkHeaders(req.headers, problems);
    const subscriber = subscribers.get(req.url ?? "");
    let plaintext = "";
    try {
      if (!subscriber) throw new Error("unknown subscription");
      plaintext = decryptAes128gcm(body, subscriber.receiver, subscriber.authSecret).toString("utf8");
    } catch (error) {
      problems.push(`cannot decrypt: ${(error as Error).message}`);
    }
    received.push({ headers: req.headers, claims, plaintext, problems });
    res.writeHead(problems.length > 0 ? 400 : nextStatus()).end();
  });
  const port = await listenOnLoopback(t, server);
  const origin = `https://127.0.0.1:${port}`;
  // Only this agent trusts the test certificate; nothing global changes.
  const agent = new Agent({ ca: tls.cert as string });
  t.teardown(() => agent.destroy());

  /** A browser's PushSubscription for this service (RFC 8291 §2: P-256 key and 16-byte auth secret). */
  function subscribe() {
    const receiver = createECDH("prime256v1");
    receiver.generateKeys();
    const authSecret = randomBytes(16);
    const pathName = `/push/${randomUUID()}`;
    subscribers.set(pathName, { receiver, authSecret });
    return {
      endpoint: `${origin}${pathName}`,
      keys: { p256dh: receiver.getPublicKey().toString("base64url"), auth: authSecret.toString("base64url") },
    };
  }

  return { origin, agent, received, subscribe };
}
