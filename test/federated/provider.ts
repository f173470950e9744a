// A stand-in for the BankID broker: the tests' own key pairs, a JWK Set file in
// a temporary directory (FEDERATED_JWKS_FILE), and assertions signed the way the
// provider (or an attacker) would. Nothing here touches the network: the guard
// below makes any fetch fail the test file.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomUUID } from "node:crypto";
import type { Test } from "tap";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from "jose";
import type { Config } from "../../src/config.ts";
import type { Clock } from "../../src/lib/clock.ts";
import type { App } from "../../src/http/app-type.ts";
import { createApiKey } from "../helpers/app.ts";

export const ISSUER = "https://bankid-broker.test";
export const AUDIENCE = "identity-service-test";

export interface ProviderKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function providerKey(alg: "ES256" | "EdDSA" | "RS256", kid: string): Promise<ProviderKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

/** Writes the provider's public keys as a JWK Set file; returns the FEDERATED_* settings for startApp. */
export async function providerConfig(t: Test, keys: ProviderKey[], extra: Partial<Config> = {}): Promise<Partial<Config>> {
  const dir = await mkdtemp(path.join(tmpdir(), "federated-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, "jwks.json");
  await writeFile(file, JSON.stringify({ keys: keys.map((k) => k.publicJwk) }));
  return { FEDERATED_ISSUER: ISSUER, FEDERATED_AUDIENCE: AUDIENCE, FEDERATED_JWKS_FILE: file, FEDERATED_JWKS_URL: undefined, ...extra };
}

export interface AssertionOptions {
  claims?: JWTPayload;
  header?: Record<string, unknown>;
  /** Claims to leave out of the defaults (e.g. "exp"). */
  omit?: string[];
}

/** The claims a good assertion carries at the clock's current time. */
export function claimsFor(subject: string, clock: Clock, options: AssertionOptions = {}): JWTPayload {
  const now = Math.floor(clock.now().getTime() / 1000);
  const claims: JWTPayload = { iss: ISSUER, aud: AUDIENCE, sub: subject, iat: now, exp: now + 120, jti: randomUUID(), ...options.claims };
  for (const name of options.omit ?? []) delete claims[name];
  return claims;
}

export async function signAssertion(key: ProviderKey, subject: string, clock: Clock, options: AssertionOptions = {}): Promise<string> {
  return new SignJWT(claimsFor(subject, clock, options))
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT", ...options.header })
    .sign(key.privateKey);
}

export const b64url = (value: unknown) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

export function federatedSignIn(app: App, assertion: string) {
  return app.inject({ method: "POST", url: "/v1/auth/federated", payload: { assertion } });
}

export async function linkIdentity(app: App, userId: string, subject: string) {
  const apiKey = await createApiKey(app, ["users:write"]);
  const res = await app.inject({ method: "PUT", url: `/v1/users/${userId}/external-identity`, headers: { "x-api-key": apiKey }, payload: { subject } });
  if (res.statusCode !== 204) throw new Error(`link: ${res.statusCode} ${res.body}`);
}

/** Fails the test if anything in this process calls fetch (a remote JWKS, a jku URL). */
export function forbidNetwork(t: Test): { calls: string[] } {
  const original = globalThis.fetch;
  const calls: string[] = [];
  globalThis.fetch = (async (input: Parameters<typeof fetch>[0]) => {
    calls.push(String(input instanceof Request ? input.url : input));
    throw new Error("network access is not allowed in these tests");
  }) as typeof fetch;
  t.teardown(() => {
    globalThis.fetch = original;
  });
  return { calls };
}
