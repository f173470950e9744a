// How the provider is configured: off until issuer, audience and keys are all
// set (the route still exists and is documented); a bad algorithm list or key
// file stops start-up; a remote key set is https only, and its outage is a 503,
// not a refused assertion. The remote key set is exercised through jose's
// customFetch with a stub: nothing here reaches the network.
import t, { type Test } from "tap";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { exportJWK, generateKeyPair } from "jose";
import { ConfigError, type Config } from "../../src/config.ts";
import { manualClock } from "../helpers/clock.ts";
import { AppError } from "../../src/errors.ts";
import { createAssertionVerifier } from "../../src/federated/assertion.ts";
import { resolveProvider, type Provider } from "../../src/federated/provider.ts";
import { createFederatedService } from "../../src/federated/service.ts";
import type { ExternalIdentityRepository } from "../../src/federated/repository.ts";
import { logCapture, startApp, testConfig } from "../helpers/app.ts";
import { AUDIENCE, federatedSignIn, forbidNetwork, ISSUER, providerConfig, providerKey, signAssertion } from "./provider.ts";

const network = forbidNetwork(t);
const clock = manualClock(new Date("2026-11-28T10:00:00Z"));
const key = await providerKey("ES256", "es-1");
const JWKS_URL = "https://bankid-broker.test/.well-known/jwks.json";

const remoteConfig = (extra = {}) => testConfig({ FEDERATED_ISSUER: ISSUER, FEDERATED_AUDIENCE: AUDIENCE, FEDERATED_JWKS_URL: JWKS_URL, ...extra });

/** Start-up must stop with a ConfigError that names the variable at fault. */
async function refusedAtStartUp(t: Test, starting: Promise<unknown>, variable: string, name: string) {
  const error = await starting.then(() => null, (e: unknown) => e);
  t.ok(error instanceof ConfigError, `${name}: a configuration error`);
  t.match((error as Error | null)?.message, variable, `${name}: names ${variable}`);
}

function enabledProvider(resolution: Awaited<ReturnType<typeof resolveProvider>>): Provider {
  if (!("provider" in resolution)) throw new Error(`expected a provider, missing ${resolution.disabled.missing.join(", ")}`);
  return resolution.provider;
}

t.test("without a provider the route answers 404 FEDERATED_SIGN_IN_DISABLED and is still in the OpenAPI document", async (t) => {
  const configs: Array<[Partial<Config>, RegExp]> = [
    [{}, /no provider configured/],
    [{ FEDERATED_ISSUER: ISSUER, FEDERATED_AUDIENCE: AUDIENCE }, /only partly configured/],
  ];
  for (const [config, announcement] of configs) {
    const logs = logCapture();
    const app = await startApp(t, { clock, config, logStream: logs.stream });
    t.match(logs.lines.join("\n"), announcement, "start-up says why sign-in is off");
    const res = await federatedSignIn(app, await signAssertion(key, "someone", clock));
    t.equal(res.statusCode, 404, JSON.stringify(config));
    t.equal(res.json().code, "FEDERATED_SIGN_IN_DISABLED");
    const paths = (app.swagger() as { paths: Record<string, Record<string, unknown>> }).paths;
    t.ok(paths["/v1/auth/federated"]?.post, "documented whatever the configuration");
    t.ok(paths["/v1/users/{id}/external-identity"]?.put);
    t.ok(paths["/v1/users/{id}/external-identity"]?.delete);
  }
});

t.test("FEDERATED_ALGORITHMS accepts asymmetric algorithms only: none, HS256, typos and an empty list stop start-up", async (t) => {
  for (const list of ["none", "ES256,none", "HS256", "ES256,HS512", "es256", " , "]) {
    await refusedAtStartUp(t, resolveProvider(testConfig({ FEDERATED_ALGORITHMS: list })), "FEDERATED_ALGORITHMS", JSON.stringify(list));
  }
  await refusedAtStartUp(t, startApp(t, { config: { FEDERATED_ALGORITHMS: "ES256,none" } }), "FEDERATED_ALGORITHMS", "buildApp");
  const ok = enabledProvider(await resolveProvider(remoteConfig({ FEDERATED_ALGORITHMS: " ES256 , EdDSA,ES256 " })));
  t.same(ok.algorithms, ["ES256", "EdDSA"]);
});

t.test("the JWKS file must be readable public asymmetric keys, else start-up stops", async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), "federated-config-"));
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  const files: Record<string, string> = {
    "not JSON": "{",
    "no keys": JSON.stringify({ keys: [] }),
    "a private key": JSON.stringify({ keys: [await exportJWK(privateKey)] }),
    "a symmetric key": JSON.stringify({ keys: [{ kty: "oct", k: "c2VjcmV0" }] }),
  };
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, `${name.replace(/ /g, "-")}.json`);
    await writeFile(file, content);
    await refusedAtStartUp(t, resolveProvider(testConfig({ ...(await providerConfig(t, [key])), FEDERATED_JWKS_FILE: file })), "FEDERATED_JWKS_FILE", name);
  }
  const missing = { ...(await providerConfig(t, [key])), FEDERATED_JWKS_FILE: path.join(dir, "missing.json") };
  await refusedAtStartUp(t, resolveProvider(testConfig(missing)), "FEDERATED_JWKS_FILE", "a missing file");
});

t.test("FEDERATED_JWKS_URL must be https", async (t) => {
  await refusedAtStartUp(t, resolveProvider(remoteConfig({ FEDERATED_JWKS_URL: "http://bankid-broker.test/jwks.json" })), "FEDERATED_JWKS_URL", "http");
  await refusedAtStartUp(t, resolveProvider(remoteConfig({ FEDERATED_JWKS_URL: "not a url" })), "FEDERATED_JWKS_URL", "not a URL");
});

t.test("the remote key set verifies, refetches an unknown kid only after the cooldown, and reports an outage", async (t) => {
  const fetched: string[] = [];
  let respond = async () => Response.json({ keys: [key.publicJwk] });
  const fetchStub = async (url: string) => {
    fetched.push(url);
    return respond();
  };
  const provider = enabledProvider(await resolveProvider(remoteConfig(), { fetch: fetchStub }));
  const verifier = createAssertionVerifier(provider, clock);

  t.match(await verifier.verify(await signAssertion(key, "subject-1", clock)), { subject: "subject-1" });
  t.same(fetched, [JWKS_URL], "fetched once, from the configured URL");
  const stranger = await providerKey("ES256", "unknown-kid");
  for (let i = 0; i < 3; i++) {
    t.same(await verifier.verify(await signAssertion(stranger, "subject-1", clock)), { rejected: "ERR_JWKS_NO_MATCHING_KEY" });
  }
  t.equal(fetched.length, 1, "unknown kids do not make us hammer the provider (cooldown)");

  const cold = enabledProvider(await resolveProvider(remoteConfig(), { fetch: fetchStub }));
  respond = async () => {
    throw Object.assign(new Error("timed out"), { name: "TimeoutError" });
  };
  t.ok("unavailable" in (await createAssertionVerifier(cold, clock).verify(await signAssertion(key, "s", clock))), "a timeout is an outage");
  respond = async () => new Response("busy", { status: 503 });
  const down = enabledProvider(await resolveProvider(remoteConfig(), { fetch: fetchStub }));
  t.ok("unavailable" in (await createAssertionVerifier(down, clock).verify(await signAssertion(key, "s", clock))), "a non-200 answer is an outage");
});

t.test("an outage of the provider's keys is 503 UNAVAILABLE with Retry-After, not a refused assertion", async (t) => {
  const emitted: string[] = [];
  const service = createFederatedService({
    provider: { settings: {} as Provider, verifier: { verify: async () => ({ unavailable: new Error("timed out") }) } },
    providerName: "bankid",
    identities: {} as ExternalIdentityRepository,
    transaction: async () => { throw new Error("not reached"); },
    claimOnce: async () => true,
    assertActive: async () => {},
    userExists: async () => true,
    discardChallenge: async () => {},
    clock,
    emit: async (type) => { emitted.push(type); },
    afterFirstFactor: async () => { throw new Error("not reached"); },
    startSession: async () => { throw new Error("not reached"); },
  });
  const log = { warn: () => {}, info: () => {} } as never;
  const error = await service.signIn("a.b.c", log).catch((e: unknown) => e);
  t.ok(error instanceof AppError);
  t.equal((error as AppError).code, "UNAVAILABLE");
  t.ok((error as AppError).options.retryAfterSeconds! > 0);
  t.same(emitted, [], "an outage is not a failed sign-in of anyone");
});

t.test("nothing in this file reached the network", async (t) => {
  t.same(network.calls, []);
});
