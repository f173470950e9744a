// The external identity provider this instance trusts, resolved once at start-up
// from FEDERATED_*. Its keys come only from the configured JWK Set (a file read
// once, or an https URL), never from a token's header (RFC 8725 §3.10;
// checklist SJ-03). A half-configured provider is off, not guessed at; a broken
// key file or algorithm list stops start-up instead of failing at sign-in.
import { readFile } from "node:fs/promises";
import {
  createLocalJWKSet, createRemoteJWKSet, customFetch, errors,
  type FetchImplementation, type JSONWebKeySet, type JWTVerifyGetKey,
} from "jose";
import { ConfigError, type Config } from "../config.ts";

// RFC 8725 §3.1–3.2: an explicit list, asymmetric only. `none` and HS* are never
// accepted: with a public key set, HS* would let anyone holding the public key
// forge assertions (key confusion).
const ASYMMETRIC_ALGORITHMS = ["ES256", "ES384", "ES512", "EdDSA", "Ed25519", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512"];

// Short, so a slow provider fails one sign-in rather than piling up requests; the
// cooldown bounds how often an unknown `kid` can make us refetch.
const REMOTE_KEY_SET = { timeoutDuration: 2_000, cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 };

export interface Provider {
  name: string;
  issuer: string;
  audience: string;
  algorithms: string[];
  maxAgeSeconds: number;
  /** Satisfies the second step by itself (BankID: possession plus PIN or biometrics). */
  multiFactor: boolean;
  keys: JWTVerifyGetKey;
}

/** The part of the configuration external sign-in reads: nothing else reaches this feature. */
export type FederatedSettings = Pick<Config,
  | "FEDERATED_PROVIDER" | "FEDERATED_ISSUER" | "FEDERATED_AUDIENCE" | "FEDERATED_JWKS_FILE" | "FEDERATED_JWKS_URL"
  | "FEDERATED_MULTI_FACTOR" | "FEDERATED_ALGORITHMS" | "FEDERATED_MAX_AGE_SECONDS">;

export type ProviderResolution = { provider: Provider } | { disabled: { missing: string[]; partlyConfigured: boolean } };

/** The key set could not be fetched: an outage on the provider's side, not a bad assertion. */
export class KeySourceUnavailable extends Error {}

export function parseAlgorithms(list: string): string[] {
  const algorithms = [...new Set(list.split(",").map((a) => a.trim()).filter(Boolean))];
  const refused = algorithms.filter((a) => !ASYMMETRIC_ALGORITHMS.includes(a));
  if (algorithms.length === 0 || refused.length > 0) {
    throw new ConfigError([
      `FEDERATED_ALGORITHMS: ${refused.length > 0 ? `refused ${refused.join(", ")}` : "empty"}; allowed: ${ASYMMETRIC_ALGORITHMS.join(", ")}`,
    ]);
  }
  return algorithms;
}

function missingSettings(config: FederatedSettings): string[] {
  return [
    ...(config.FEDERATED_ISSUER ? [] : ["FEDERATED_ISSUER"]),
    ...(config.FEDERATED_AUDIENCE ? [] : ["FEDERATED_AUDIENCE"]),
    ...(config.FEDERATED_JWKS_FILE || config.FEDERATED_JWKS_URL ? [] : ["FEDERATED_JWKS_FILE or FEDERATED_JWKS_URL"]),
  ];
}

/** Only public asymmetric keys belong in a provider's set (RFC 7517 §5); anything else is a mistake to stop on. */
function assertPublicKeySet(value: unknown, source: string): asserts value is JSONWebKeySet {
  const keys = (value as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new ConfigError([`${source}: not a JWK Set with at least one key`]);
  const unfit = keys.filter((k: Record<string, unknown>) => typeof k !== "object" || k === null || k.kty === "oct" || "d" in k);
  if (unfit.length > 0) throw new ConfigError([`${source}: only public asymmetric keys are allowed (no "oct" keys, no private "d")`]);
}

async function localKeySet(path: string): Promise<JWTVerifyGetKey> {
  const text = await readFile(path, "utf8").catch(() => {
    throw new ConfigError([`FEDERATED_JWKS_FILE: cannot read ${path}`]);
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigError([`FEDERATED_JWKS_FILE: ${path} is not JSON`]);
  }
  assertPublicKeySet(parsed, "FEDERATED_JWKS_FILE");
  return createLocalJWKSet(parsed);
}

/** A key lookup that tells "no such key" (the assertion's fault) from "could not fetch" (the provider's). */
function remoteKeySet(url: string, fetchImpl?: FetchImplementation): JWTVerifyGetKey {
  const parsed = URL.canParse(url) ? new URL(url) : null;
  if (parsed?.protocol !== "https:") throw new ConfigError(["FEDERATED_JWKS_URL: must be an https URL"]);
  const remote = createRemoteJWKSet(parsed, { ...REMOTE_KEY_SET, ...(fetchImpl ? { [customFetch]: fetchImpl } : {}) });
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys || error instanceof errors.JOSENotSupported) throw error;
      throw new KeySourceUnavailable("the provider's JWK Set could not be fetched", { cause: error });
    }
  };
}

/**
 * The provider, or why external sign-in is off. `fetch` replaces the global
 * fetch for the remote key set (tests never reach the network).
 */
export async function resolveProvider(config: FederatedSettings, options: { fetch?: FetchImplementation } = {}): Promise<ProviderResolution> {
  const algorithms = parseAlgorithms(config.FEDERATED_ALGORITHMS);
  const missing = missingSettings(config);
  if (missing.length > 0) {
    const partlyConfigured = Boolean(config.FEDERATED_ISSUER || config.FEDERATED_AUDIENCE || config.FEDERATED_JWKS_FILE || config.FEDERATED_JWKS_URL);
    return { disabled: { missing, partlyConfigured } };
  }
  // The file wins when both are set, as config.ts documents.
  const keys = config.FEDERATED_JWKS_FILE
    ? await localKeySet(config.FEDERATED_JWKS_FILE)
    : remoteKeySet(config.FEDERATED_JWKS_URL!, options.fetch);
  return {
    provider: {
      name: config.FEDERATED_PROVIDER,
      issuer: config.FEDERATED_ISSUER!,
      audience: config.FEDERATED_AUDIENCE!,
      algorithms,
      maxAgeSeconds: config.FEDERATED_MAX_AGE_SECONDS,
      multiFactor: config.FEDERATED_MULTI_FACTOR,
      keys,
    },
  };
}
