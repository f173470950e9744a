// The environment is the service's only configuration surface (src/config.ts).
// A mistake there must stop the start with a message an operator can act on,
// and production must never run on keys it made up itself (ASVS 13.3.1).
import t from "tap";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { ConfigError, ConfigSchema, loadConfig } from "../src/config.ts";
import { resolveKeyMaterial } from "../src/key-material.ts";
import { generateKeyRecord, serializeKeyFile } from "../src/lib/signing-keys.ts";

const ENV_EXAMPLE = new URL("../.env.example", import.meta.url);
const NOW = new Date("2026-11-01T00:00:00Z");
const ENCRYPTION_KEY = Buffer.alloc(32, 7).toString("base64url");

interface ExampleEntry { name: string; value: string; comments: string[] }

/** `NAME=value` lines, commented out or not, each with the comment block above it. */
function parseEnvExample(text: string): ExampleEntry[] {
  const entries: ExampleEntry[] = [];
  let comments: string[] = [];
  for (const line of text.split("\n")) {
    const variable = /^(?:# ?)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (variable) entries.push({ name: variable[1]!, value: variable[2]!, comments });
    if (variable || line.trim() === "") comments = [];
    else if (line.startsWith("#")) comments.push(line.replace(/^# ?/, ""));
  }
  return entries;
}

type Property = { description?: string; default?: unknown };
const schemaProperties = ConfigSchema.properties as unknown as Record<string, Property>;

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

t.test(".env.example lists every configuration variable", async (t) => {
  const entries = parseEnvExample(await readFile(ENV_EXAMPLE, "utf8"));
  const listed = entries.map((e) => e.name);
  const declared = Object.keys(schemaProperties);
  t.same(declared.filter((name) => !listed.includes(name)), [], "every ConfigSchema variable is in .env.example");
  t.same(listed.filter((name) => !declared.includes(name)), [], "every .env.example variable is in ConfigSchema");
  t.equal(new Set(listed).size, listed.length, "no variable is listed twice");

  for (const { name, value, comments } of entries) {
    const property = schemaProperties[name];
    if (!property) continue;
    t.ok(comments.includes(property.description ?? ""), `${name} carries its description from ConfigSchema`);
    if (property.default !== undefined) t.equal(value, String(property.default), `${name} shows its default`);
  }
});

t.test("a wrong value is refused with an actionable message naming the variable", async (t) => {
  const cases: [string, string, RegExp][] = [
    ["PORT", "eighty", /PORT: .*\(TCP port\)/],
    ["PORT", "70000", /PORT: .*65535/],
    ["MODE", "prod", /MODE: /],
    ["DATABASE_URL", "mysql://db/identity", /DATABASE_URL: .*postgres/],
    ["MIGRATE_ON_START", "maybe", /MIGRATE_ON_START: /],
    ["ARGON2_MEMORY_KIB", "1024", /ARGON2_MEMORY_KIB: .*19456.*OWASP/],
  ];
  for (const [name, value, message] of cases) {
    const error = configError(() => loadConfig({ [name]: value }));
    t.match(error.message, message, `${name}=${value} is refused`);
    t.same([...new Set(error.problems.map((p) => p.split(":")[0]))], [name], `only ${name} is blamed`);
  }
  t.equal(loadConfig({ PORT: "8080", MODE: "production" }).PORT, 8080, "a right value is converted to its type");
});

t.test("production refuses to start without configured keys", async (t) => {
  const dataDir = t.testdir();
  const config = loadConfig({ MODE: "production", DATA_DIR: dataDir });
  const error = await resolveKeyMaterial(config, NOW).then(() => null, (e: unknown) => e);
  t.type(error, ConfigError);
  t.match((error as Error).message, /SIGNING_KEYS/);
  t.match((error as Error).message, /ENCRYPTION_KEYS/);
  t.match((error as Error).message, /npm run cli -- keys/, "the message says how to make them");
  t.same(await readdir(dataDir), [], "no key is generated in production");
});

t.test("development generates keys once and keeps them under DATA_DIR", async (t) => {
  const dataDir = t.testdir();
  const config = loadConfig({ MODE: "development", DATA_DIR: dataDir });
  const first = await resolveKeyMaterial(config, NOW);
  const second = await resolveKeyMaterial(config, NOW);
  t.same(second.signingKeys.keys.map((k) => k.kid), first.signingKeys.keys.map((k) => k.kid), "a restart keeps the signing keys");
  t.same(second.encryptionKeys, first.encryptionKeys, "a restart keeps the encryption keys");
  for (const file of ["signing-keys.json", "encryption-keys"]) {
    const info = await stat(path.join(dataDir, file));
    t.equal(info.mode & 0o777, 0o600, `${file} is readable by its owner only`);
  }
});

t.test("a configured key file in production is used", async (t) => {
  const root = t.testdir({ data: {}, secrets: {} });
  const dataDir = path.join(root, "data");
  const keyFile = serializeKeyFile({ keys: [await generateKeyRecord("access", NOW), await generateKeyRecord("device", NOW)] });
  const kids = JSON.parse(keyFile).keys.map((k: { kid: string }) => k.kid);
  const env = { MODE: "production", DATA_DIR: dataDir, ENCRYPTION_KEYS: `k1:${ENCRYPTION_KEY}` };

  const inline = await resolveKeyMaterial(loadConfig({ ...env, SIGNING_KEYS: keyFile }), NOW);
  t.same(inline.signingKeys.keys.map((k) => k.kid), kids, "SIGNING_KEYS content is used");
  t.same(inline.encryptionKeys.map((k) => k.id), ["k1"], "ENCRYPTION_KEYS is used");
  t.equal(inline.activeEncryptionKeyId, "k1");

  const keyPath = path.join(root, "secrets", "signing-keys.json");
  await writeFile(keyPath, keyFile, { mode: 0o600 });
  const fromFile = await resolveKeyMaterial(loadConfig({ ...env, SIGNING_KEYS_FILE: keyPath }), NOW);
  t.same(fromFile.signingKeys.keys.map((k) => k.kid), kids, "SIGNING_KEYS_FILE is read");
  t.same(await readdir(dataDir), [], "nothing is generated beside the configured keys");
});
