import t from "tap";
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { generate } from "otplib";
import {
  generateTotpCode,
  generateTotpSecret,
  timeStepAt,
  totpQrSvg,
  totpUri,
  verifyTotpCode,
} from "../../src/lib/totp.ts";

interface OtpVector {
  kind: "totp" | "hotp";
  algorithm: "SHA1" | "SHA256" | "SHA512";
  secretBase32: string;
  secretHex: string;
  time: number | null;
  step: number;
  digits: number;
  expected: string;
  hmacHex?: string;
  truncatedDecimal?: number;
}

const vectors: OtpVector[] = JSON.parse(readFileSync(new URL("../fixtures/otp-vectors.json", import.meta.url), "utf8"));
const RFC_SHA1_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const STEP_MS = 30_000;

// Independent reference: RFC 4226 §5.3 (HMAC, dynamic truncation, mod 10^d),
// using node:crypto rather than otplib's @noble/hashes.
function referenceHmac(secret: Buffer, counter: number, algorithm: string): Buffer {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  return createHmac(algorithm.toLowerCase(), secret).update(message).digest();
}

function dynamicTruncate(hmac: Buffer): number {
  const offset = hmac[hmac.length - 1]! & 0x0f;
  return hmac.readUInt32BE(offset) & 0x7fffffff;
}

function referenceCode(secret: Buffer, counter: number, algorithm: string, digits: number): string {
  return String(dynamicTruncate(referenceHmac(secret, counter, algorithm)) % 10 ** digits).padStart(digits, "0");
}

// RFC 4648 §6, written here so the test does not trust the code under test.
function base32Decode(text: string): Buffer {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const char of text) bits += alphabet.indexOf(char).toString(2).padStart(5, "0");
  const bytes = bits.match(/.{8}/g) ?? [];
  return Buffer.from(bytes.map((byte) => parseInt(byte, 2)));
}

function otplibCode(vector: OtpVector): Promise<string> {
  const common = {
    secret: vector.secretBase32,
    algorithm: vector.algorithm.toLowerCase() as "sha1" | "sha256" | "sha512",
    digits: vector.digits as 6 | 8,
  };
  return vector.kind === "hotp"
    ? generate({ ...common, strategy: "hotp", counter: vector.step })
    : generate({ ...common, epoch: vector.time!, period: 30, t0: 0 });
}

t.test("RFC 6238 and RFC 4226 vectors reproduce through our TOTP code path", async (t) => {
  t.equal(vectors.length, 28);
  for (const vector of vectors) {
    const name = `${vector.kind} ${vector.algorithm} step ${vector.step}`;
    const seed = Buffer.from(vector.secretHex, "hex");
    t.equal(base32Decode(vector.secretBase32).toString("hex"), vector.secretHex, `${name}: Base32 seed`);
    t.equal(referenceCode(seed, vector.step, vector.algorithm, vector.digits), vector.expected, `${name}: node:crypto`);
    t.equal(await otplibCode(vector), vector.expected, `${name}: otplib`);
    if (vector.kind === "hotp") {
      const hmac = referenceHmac(seed, vector.step, vector.algorithm);
      t.equal(hmac.toString("hex"), vector.hmacHex, `${name}: RFC 4226 intermediate HMAC`);
      t.equal(dynamicTruncate(hmac), vector.truncatedDecimal, `${name}: RFC 4226 truncated value`);
      continue;
    }
    const at = new Date(vector.time! * 1000);
    t.equal(timeStepAt(at), vector.step, `${name}: T (RFC 6238 §4.2, including t > 2^32)`);
    if (vector.algorithm !== "SHA1") continue;
    // Production path: 6 digits are the 8-digit value mod 10^6.
    const sixDigits = vector.expected.slice(-6);
    t.equal(await generateTotpCode(vector.secretBase32, at), sixDigits, `${name}: generateTotpCode`);
    t.same(
      await verifyTotpCode({ secret: vector.secretBase32, code: sixDigits, at, lastUsedStep: null }),
      { valid: true, step: vector.step },
      `${name}: verifyTotpCode`,
    );
  }
});

t.test("codes for T-1, T and T+1 are accepted; T-2 and T+2 are refused", async (t) => {
  // First, middle and last millisecond of a step: the window is in steps, not seconds.
  for (const iso of ["2026-11-02T10:00:00.000Z", "2026-11-02T10:00:15.000Z", "2026-11-02T10:00:29.999Z"]) {
    const at = new Date(iso);
    const T = timeStepAt(at);
    for (const offset of [-2, -1, 0, 1, 2]) {
      const code = await generateTotpCode(RFC_SHA1_SECRET, new Date(at.getTime() + offset * STEP_MS));
      const expected = Math.abs(offset) <= 1 ? { valid: true, step: T + offset } : { valid: false, reason: "invalid" };
      t.same(await verifyTotpCode({ secret: RFC_SHA1_SECRET, code, at, lastUsedStep: null }), expected, `${iso} T${offset >= 0 ? "+" : ""}${offset}`);
    }
  }
});

t.test("a step at or below the last used step is a replay", async (t) => {
  const at = new Date("2026-11-02T10:00:15Z");
  const T = timeStepAt(at);
  const codeAt = (step: number) => generateTotpCode(RFC_SHA1_SECRET, new Date(step * STEP_MS));
  const check = async (step: number, lastUsedStep: number | null) =>
    verifyTotpCode({ secret: RFC_SHA1_SECRET, code: await codeAt(step), at, lastUsedStep });

  const first = await check(T, null);
  t.same(first, { valid: true, step: T }, "first use is accepted");
  t.same(await check(T, T), { valid: false, reason: "replay" }, "the same code again");
  t.same(await check(T - 1, T), { valid: false, reason: "replay" }, "an older code in the window");
  t.same(await check(T + 1, T), { valid: true, step: T + 1 }, "a newer code is still accepted");
  t.same(await check(T, T - 1), { valid: true, step: T }, "a last-used step below the match is no obstacle");
  t.same(await check(T + 5, T), { valid: false, reason: "invalid" }, "a wrong code is invalid, not a replay");
  t.same(
    await check(T, T + 5),
    { valid: false, reason: "invalid" },
    "a last-used step beyond T+1 (server clock went back) is refused without throwing",
  );
});

t.test("malformed codes are refused without throwing", async (t) => {
  const malformed = ["", "12345", "1234567", "12a456", "１２３４５６", " 123456", "123456 ", "123456\n", "-12345", "1".repeat(10_240)];
  for (const code of malformed) {
    const result = await verifyTotpCode({ secret: RFC_SHA1_SECRET, code, at: new Date(), lastUsedStep: null });
    t.same(result, { valid: false, reason: "malformed" }, JSON.stringify(code.slice(0, 12)));
  }
});

t.test("a secret is 160 bits and 1,000 secrets are distinct", async (t) => {
  const secrets = Array.from({ length: 1000 }, generateTotpSecret);
  for (const secret of secrets.slice(0, 20)) {
    t.match(secret, /^[A-Z2-7]{32}$/, "Base32, no padding");
    t.equal(base32Decode(secret).length, 20, "20 bytes (RFC 4226 §4 R6)");
  }
  t.equal(new Set(secrets).size, secrets.length);
});

t.test("the otpauth URI carries issuer, SHA1, 6 digits, 30 s", async (t) => {
  const secret = generateTotpSecret();
  const uri = totpUri({ issuer: "Acme Co", accountName: "alice+2fa@acme.example", secret });
  const url = new URL(uri);
  t.equal(url.protocol, "otpauth:");
  t.equal(url.host, "totp");
  t.equal(decodeURIComponent(url.pathname.slice(1)), "Acme Co:alice+2fa@acme.example");
  t.notMatch(uri, /\+/, "spaces and plus signs are percent-encoded");
  t.same(Object.fromEntries(url.searchParams), {
    secret,
    issuer: "Acme Co",
    algorithm: "SHA1",
    digits: "6",
    period: "30",
  });

  // What an app scanning the URI would show, computed independently.
  const at = new Date("2026-11-02T10:00:15Z");
  const appCode = referenceCode(base32Decode(url.searchParams.get("secret")!), timeStepAt(at), "SHA1", 6);
  t.same(await verifyTotpCode({ secret, code: appCode, at, lastUsedStep: null }), { valid: true, step: timeStepAt(at) });

  t.throws(() => totpUri({ issuer: "Acme:Co", accountName: "alice", secret }), TypeError, "colon in issuer");
  t.throws(() => totpUri({ issuer: "Acme", accountName: "", secret }), TypeError, "empty account name");
});

t.test("the QR code is an SVG", async (t) => {
  const svg = await totpQrSvg(totpUri({ issuer: "Acme", accountName: "alice@acme.example", secret: generateTotpSecret() }));
  t.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*viewBox=/);
  t.match(svg.trimEnd(), /<\/svg>$/);
});
