import t from "tap";
import { createHmac, randomBytes } from "node:crypto";
import { CompactSign, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK } from "jose";
import type { CompactJWSHeaderParameters, CryptoKey, JWK } from "jose";
import { manualClock } from "../helpers/clock.ts";
import {
  createKeyRing, generateKeyRecord, loadKeyFile, rotateKeys, serializeKeyFile,
} from "../../src/lib/signing-keys.ts";
import type { KeyFile, KeyRing, KeyUse, VerifyRequest } from "../../src/lib/signing-keys.ts";

const T0 = new Date("2026-11-01T00:00:00Z");
const ISSUER = "https://id.example.test";
const ACCESS: VerifyRequest = { typ: "at+jwt", issuer: ISSUER, audience: "api" };
const DEVICE: VerifyRequest = { typ: "device-trust+jwt", issuer: ISSUER, audience: "device-trust" };
const RETENTION = { access: 930, device: 2_592_030 };

async function setup() {
  const clock = manualClock(T0);
  const file: KeyFile = { keys: [await generateKeyRecord("access", T0), await generateKeyRecord("device", T0)] };
  const ring = await createKeyRing(file, { retentionSeconds: RETENTION }, clock);
  return { clock, file, ring, accessJwk: file.keys[0]!.privateJwk, accessKid: file.keys[0]!.kid };
}
type Ctx = Awaited<ReturnType<typeof setup>>;

function signAccess(ring: KeyRing, extra: { expiresInSeconds?: number; claims?: Record<string, unknown> } = {}) {
  return ring.sign("access", { ...ACCESS, subject: "user-1", expiresInSeconds: 900, ...extra });
}

const b64json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

function claimsAt(now: Date, extra: Record<string, unknown> = {}) {
  const iat = Math.floor(now.getTime() / 1000);
  return { iss: ISSUER, aud: ACCESS.audience, sub: "user-1", iat, exp: iat + 900, jti: randomBytes(16).toString("base64url"), ...extra };
}

async function signWith(key: JWK | CryptoKey, header: Record<string, unknown>, payload: unknown, alg = "EdDSA") {
  const signingKey = "kty" in key ? await importJWK(key, alg) : key;
  return new CompactSign(Buffer.from(JSON.stringify(payload)))
    .setProtectedHeader({ alg, typ: ACCESS.typ, ...header } as CompactJWSHeaderParameters)
    .sign(signingKey);
}

function hs256(secret: string | Buffer, header: Record<string, unknown>, payload: unknown): string {
  const input = `${b64json({ alg: "HS256", typ: ACCESS.typ, ...header })}.${b64json(payload)}`;
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}

function unsigned(alg: string, kid: string, payload: unknown): string {
  return `${b64json({ alg, typ: ACCESS.typ, kid })}.${b64json(payload)}.`;
}

async function attackerKey() {
  const pair = await generateKeyPair("EdDSA", { extractable: true });
  return { privateKey: pair.privateKey, publicJwk: await exportJWK(pair.publicKey) };
}

function flipPayloadBit(token: string): string {
  const [header, payload, signature] = token.split(".") as [string, string, string];
  const bytes = Buffer.from(payload, "base64url");
  bytes[bytes.indexOf("user-1")]! ^= 0x01; // "user-1" -> "tser-1": still valid JSON, so only the signature can catch it
  return [header, bytes.toString("base64url"), signature].join(".");
}

// Each case yields a token that must not verify as an access token (SJ-01..SJ-04, DT-07, checklist §4 item 5).
const accessCorpus: Array<[string, (c: Ctx) => Promise<string>]> = [
  ["alg none", async (c) => unsigned("none", c.accessKid, claimsAt(T0))],
  ["alg None", async (c) => unsigned("None", c.accessKid, claimsAt(T0))],
  ["alg NONE", async (c) => unsigned("NONE", c.accessKid, claimsAt(T0))],
  ["HS256 keyed with the public key bytes", async (c) => hs256(Buffer.from(c.accessJwk.x!, "base64url"), { kid: c.accessKid }, claimsAt(T0))],
  ["HS256 keyed with the public JWK JSON", async (c) => hs256(JSON.stringify(c.ring.activeKey("access").publicJwk), { kid: c.accessKid }, claimsAt(T0))],
  ["RS256 from an attacker key", async (c) => signWith((await generateKeyPair("RS256")).privateKey, { kid: c.accessKid }, claimsAt(T0), "RS256")],
  ["one flipped payload bit", async (c) => flipPayloadBit(await signAccess(c.ring))],
  ["one flipped signature bit", async (c) => { const s = await signAccess(c.ring); return s.slice(0, -2) + (s.at(-2) === "A" ? "B" : "A") + s.at(-1); }],
  ["wrong typ", async (c) => c.ring.sign("access", { ...ACCESS, typ: "device-trust+jwt", subject: "u", expiresInSeconds: 900 })],
  ["typ differing only in case", async (c) => c.ring.sign("access", { ...ACCESS, typ: "AT+JWT", subject: "u", expiresInSeconds: 900 })],
  ["typ with an application/ prefix", async (c) => c.ring.sign("access", { ...ACCESS, typ: "application/at+jwt", subject: "u", expiresInSeconds: 900 })],
  ["wrong aud", async (c) => c.ring.sign("access", { ...ACCESS, audience: "device-trust", subject: "u", expiresInSeconds: 900 })],
  ["wrong iss", async (c) => c.ring.sign("access", { ...ACCESS, issuer: "https://evil.test", subject: "u", expiresInSeconds: 900 })],
  ["exp = now - 31 s", async (c) => signWith(c.accessJwk, { kid: c.accessKid }, claimsAt(T0, { exp: T0.getTime() / 1000 - 31 }))],
  ["nbf = now + 60 s", async (c) => signAccess(c.ring, { claims: { nbf: T0.getTime() / 1000 + 60 } })],
  ["iat = now + 60 s", async (c) => signWith(c.accessJwk, { kid: c.accessKid }, claimsAt(T0, { iat: T0.getTime() / 1000 + 60 }))],
  ["missing exp", async (c) => signWith(c.accessJwk, { kid: c.accessKid }, claimsAt(T0, { exp: undefined }))],
  ["missing jti", async (c) => signWith(c.accessJwk, { kid: c.accessKid }, claimsAt(T0, { jti: undefined }))],
  ["missing kid", async (c) => signWith(c.accessJwk, {}, claimsAt(T0))],
  ["unknown kid", async (c) => signWith(c.accessJwk, { kid: `access-${randomBytes(16).toString("base64url")}` }, claimsAt(T0))],
  ['kid "../../x"', async (c) => signWith(c.accessJwk, { kid: "../../x" }, claimsAt(T0))],
  [`kid "' OR 1=1--"`, async (c) => signWith(c.accessJwk, { kid: "' OR 1=1--" }, claimsAt(T0))],
  ['kid "__proto__"', async (c) => signWith(c.accessJwk, { kid: "__proto__" }, claimsAt(T0))],
  ["embedded attacker jwk", async () => { const a = await attackerKey(); return signWith(a.privateKey, { jwk: a.publicJwk }, claimsAt(T0)); }],
  ["embedded attacker jwk with our kid", async (c) => { const a = await attackerKey(); return signWith(a.privateKey, { kid: c.accessKid, jwk: a.publicJwk }, claimsAt(T0)); }],
  ["jku header, even on a correctly signed token", async (c) => signWith(c.accessJwk, { kid: c.accessKid, jku: "https://attacker.example/jwks.json" }, claimsAt(T0))],
  ["x5u header", async (c) => signWith(c.accessJwk, { kid: c.accessKid, x5u: "https://attacker.example/cert.pem" }, claimsAt(T0))],
  ["x5c header", async (c) => signWith(c.accessJwk, { kid: c.accessKid, x5c: ["MIIB"] }, claimsAt(T0))],
  ["crit header (RFC 7797 b64, which jose itself understands)", async (c) => signWith(c.accessJwk, { kid: c.accessKid, crit: ["b64"], b64: true }, claimsAt(T0))],
  ["a token from another key ring (another environment)", async () => signAccess((await setup()).ring)],
  ["another ring's key under our kid", async (c) => signWith((await setup()).accessJwk, { kid: c.accessKid }, claimsAt(T0))],
  ["a device-use key signing the access profile", async (c) => c.ring.sign("device", { ...ACCESS, subject: "user-1", expiresInSeconds: 900 })],
  ["a real device-trust token", async (c) => c.ring.sign("device", { ...DEVICE, subject: "user-1", expiresInSeconds: 2_592_000 })],
  ["a JWE-shaped token", async () => "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..aaaa.bbbb.cccc"],
  ["garbage", async () => "not-a-token"],
];

t.test("a forged, foreign or mismatched token never verifies as an access token", async (t) => {
  const ctx = await setup();
  const realFetch = globalThis.fetch;
  let outbound = 0;
  globalThis.fetch = ((...args: Parameters<typeof fetch>) => { outbound += 1; return realFetch(...args); }) as typeof fetch;
  t.teardown(() => { globalThis.fetch = realFetch; });
  for (const [name, forge] of accessCorpus) {
    t.equal(await ctx.ring.verify("access", await forge(ctx), ACCESS), null, name);
  }
  t.equal(outbound, 0, "no key is ever fetched from a URL named in a token");
});

t.test("an access-use token never verifies as a device token", async (t) => {
  const { ring } = await setup();
  const sameProfile = await ring.sign("access", { ...DEVICE, subject: "user-1", expiresInSeconds: 900 });
  t.equal(await ring.verify("device", sameProfile, DEVICE), null, "access key, device profile");
  t.equal(await ring.verify("device", await signAccess(ring), DEVICE), null, "real access token");
  t.ok(await ring.verify("device", await ring.sign("device", { ...DEVICE, subject: "u", expiresInSeconds: 60 }), DEVICE), "control: device verifies as device");
});

t.test("a signed token verifies and carries kid, typ and the standard claims", async (t) => {
  const { ring } = await setup();
  const token = await signAccess(ring, { claims: { aal: 2, amr: ["pwd", "otp"] } });
  t.same(decodeProtectedHeader(token), { alg: "EdDSA", typ: "at+jwt", kid: ring.activeKey("access").kid });
  const payload = await ring.verify("access", token, ACCESS);
  t.match(payload, { iss: ISSUER, aud: "api", sub: "user-1", iat: T0.getTime() / 1000, exp: T0.getTime() / 1000 + 900, aal: 2, amr: ["pwd", "otp"] });
  t.ok(Buffer.from(String(payload?.jti), "base64url").length >= 16, "jti has at least 128 random bits");
  t.not((await ring.verify("access", await signAccess(ring), ACCESS))?.jti, payload?.jti, "each token gets a fresh jti");
  t.equal((await ring.verify("access", await signAccess(ring, { claims: { jti: "fixed" } }), ACCESS))?.jti, "fixed", "a caller jti is kept");
});

t.test("exp and nbf allow exactly 30 s of clock skew", async (t) => {
  const { ring, clock } = await setup();
  const token = await signAccess(ring, { expiresInSeconds: 60 });
  const notYet = await signAccess(ring, { claims: { nbf: T0.getTime() / 1000 + 29 } });
  t.ok(await ring.verify("access", notYet, ACCESS), "nbf 29 s ahead is tolerated");
  clock.advance((60 + 29) * 1000);
  t.ok(await ring.verify("access", token, ACCESS), "exp = now - 29 s still verifies");
  clock.advance(2_000);
  t.equal(await ring.verify("access", token, ACCESS), null, "exp = now - 31 s does not");
});

t.test("the JWKS publishes public members only, with unique kids and alg", async (t) => {
  const { ring } = await setup();
  const { keys } = ring.jwks();
  t.equal(keys.length, 2);
  for (const jwk of keys) {
    for (const secret of ["d", "p", "q", "k", "dp", "dq", "qi"]) t.notOk(secret in jwk, `${jwk.kid} has no ${secret}`);
    t.match(jwk, { kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig", x: /^[\w-]{43}$/ });
  }
  t.equal(new Set(keys.map((k) => k.kid)).size, keys.length, "kids are unique");
  t.same(keys.map((k) => k.kid.split("-")[0]).sort(), ["access", "device"], "the kid prefix tells the uses apart");
});

t.test("after rotation old tokens still verify and the new key signs", async (t) => {
  const { ring, file, clock } = await setup();
  const oldToken = await signAccess(ring);
  const oldKid = ring.activeKey("access").kid;
  clock.advance(60_000);
  const rotated = await rotateKeys(file, "access", clock.now());
  t.equal(file.keys.length, 2, "the input file is not mutated");
  const next = await createKeyRing(rotated, { retentionSeconds: RETENTION }, clock);
  t.not(next.activeKey("access").kid, oldKid);
  t.equal(next.activeKey("device").kid, ring.activeKey("device").kid, "only the rotated use changes");
  t.equal(decodeProtectedHeader(await signAccess(next)).kid, next.activeKey("access").kid);
  t.ok(await next.verify("access", oldToken, ACCESS), "a token signed before rotation verifies");
  t.ok(next.jwks().keys.some((k) => k.kid === oldKid), "the retired key is still published");
});

t.test("once the retention window passes, a retired key leaves the JWKS and stops verifying", async (t) => {
  const { ring, file, clock } = await setup();
  const oldKid = ring.activeKey("access").kid;
  const longLived = await signAccess(ring, { expiresInSeconds: 7_200 }); // outlives retention on purpose
  const next = await createKeyRing(await rotateKeys(file, "access", clock.now()), { retentionSeconds: RETENTION }, clock);
  clock.advance(RETENTION.access * 1000 - 1);
  t.ok(await next.verify("access", longLived, ACCESS), "1 ms before the window closes");
  clock.advance(1);
  t.notOk(next.jwks().keys.some((k) => k.kid === oldKid), "gone from the JWKS");
  t.equal(await next.verify("access", longLived, ACCESS), null, "its tokens no longer verify");
});

t.test("activeKey and sign refuse when a use has no live key", async (t) => {
  const { file, clock } = await setup();
  const retired = { keys: file.keys.map((k) => (k.use === "device" ? { ...k, retiredAt: T0.toISOString() } : k)) };
  const ring = await createKeyRing(retired, { retentionSeconds: RETENTION }, clock);
  t.throws(() => ring.activeKey("device"), /no active device signing key/);
  await t.rejects(ring.sign("device", { ...DEVICE, subject: "u", expiresInSeconds: 60 }), /no active device/);
  await t.rejects(signAccess(ring, { expiresInSeconds: 0 }), /positive integer/);
});

t.test("a key file round-trips and bad files fail with a pointed message", async (t) => {
  const { file } = await setup();
  t.same(loadKeyFile(serializeKeyFile(file)), file);
  const good = file.keys[0]!;
  const bad = (patch: Record<string, unknown>) => JSON.stringify({ keys: [{ ...good, ...patch }] });
  t.throws(() => loadKeyFile("{"), /not valid JSON/);
  t.throws(() => loadKeyFile("[]"), /must be \{ "keys"/);
  t.throws(() => loadKeyFile(bad({ use: "refresh" })), /keys\[0\]\.use must be "access" or "device"/);
  t.throws(() => loadKeyFile(bad({ kid: "../../x" })), /keys\[0\]\.kid/);
  t.throws(() => loadKeyFile(bad({ use: "device" as KeyUse })), /keys\[0\]\.kid must look like "device-"/);
  t.throws(() => loadKeyFile(bad({ createdAt: "yesterday" })), /createdAt must be an ISO 8601/);
  t.throws(() => loadKeyFile(bad({ retiredAt: 5 })), /retiredAt/);
  t.throws(() => loadKeyFile(bad({ privateJwk: { ...good.privateJwk, d: undefined } })), /privateJwk d \(the private key\)/);
  t.throws(() => loadKeyFile(bad({ privateJwk: { ...good.privateJwk, crv: "X25519" } })), /crv "Ed25519"/);
  t.throws(() => loadKeyFile(JSON.stringify({ keys: [good, good] })), /keys\[1\]\.kid duplicates/);
});

t.test("a key whose x does not match its d is refused at startup", async (t) => {
  const { file, clock } = await setup();
  const other = file.keys[1]!.privateJwk.x;
  const mixed = { keys: [{ ...file.keys[0]!, privateJwk: { ...file.keys[0]!.privateJwk, x: other } }] };
  await t.rejects(createKeyRing(mixed, { retentionSeconds: RETENTION }, clock), /cannot be imported/);
  await t.rejects(createKeyRing(file, { retentionSeconds: { access: -1, device: 0 } }, clock), /retentionSeconds\.access/);
});
