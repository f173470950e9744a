// Where signing and encryption keys come from. Production takes them from
// configuration only and refuses to start without them (ASVS 13.3.1: no keys
// in the database or image). Development generates them on first start and
// keeps them under DATA_DIR, so a restart does not invalidate tokens.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { ConfigError, type Config } from "./config.ts";
import { generateKeyRecord, loadKeyFile, serializeKeyFile, type KeyFile } from "./lib/signing-keys.ts";
import { parseEncryptionKeys, type EncryptionKey } from "./lib/secret-box.ts";

export interface KeyMaterial {
  signingKeys: KeyFile;
  encryptionKeys: EncryptionKey[];
  activeEncryptionKeyId: string;
}

async function generateSigningKeys(now: Date): Promise<KeyFile> {
  return { keys: [await generateKeyRecord("access", now), await generateKeyRecord("device", now)] };
}

function generateEncryptionSpec(): string {
  return `dev1:${randomBytes(32).toString("base64url")}`;
}

async function readOrCreate(file: string | null, create: () => Promise<string>): Promise<string> {
  if (!file) return create();
  const existing = await readFile(file, "utf8").catch(() => null);
  if (existing !== null) return existing;
  const content = await create();
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, content, { mode: 0o600 });
  return content;
}

function parseOrExplain<T>(name: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new ConfigError([`${name}: ${(error as Error).message}`]);
  }
}

export async function resolveKeyMaterial(config: Config, now = new Date()): Promise<KeyMaterial> {
  const inMemory = config.DATA_DIR.startsWith("memory://");
  const devFile = (name: string) => (inMemory ? null : path.resolve(config.DATA_DIR, name));
  if (config.MODE === "production") {
    const missing = [
      ...(config.SIGNING_KEYS || config.SIGNING_KEYS_FILE ? [] : ["SIGNING_KEYS or SIGNING_KEYS_FILE: required in production (npm run cli -- keys generate)"]),
      ...(config.ENCRYPTION_KEYS ? [] : ["ENCRYPTION_KEYS: required in production (npm run cli -- keys encryption-key)"]),
    ];
    if (missing.length > 0) throw new ConfigError(missing);
  }

  const signingJson =
    config.SIGNING_KEYS ??
    (config.SIGNING_KEYS_FILE
      ? await readFile(config.SIGNING_KEYS_FILE, "utf8").catch(() => {
          throw new ConfigError([`SIGNING_KEYS_FILE: cannot read ${config.SIGNING_KEYS_FILE}`]);
        })
      : await readOrCreate(devFile("signing-keys.json"), async () => serializeKeyFile(await generateSigningKeys(now))));
  const signingKeys = parseOrExplain("SIGNING_KEYS", () => loadKeyFile(signingJson));

  const encryptionSpec = config.ENCRYPTION_KEYS ?? (await readOrCreate(devFile("encryption-keys"), async () => generateEncryptionSpec()));
  const encryptionKeys = parseOrExplain("ENCRYPTION_KEYS", () => parseEncryptionKeys(encryptionSpec.trim()));
  const activeEncryptionKeyId = config.ENCRYPTION_ACTIVE_KEY_ID ?? encryptionKeys.at(-1)!.id;
  if (!encryptionKeys.some((k) => k.id === activeEncryptionKeyId)) {
    throw new ConfigError([`ENCRYPTION_ACTIVE_KEY_ID: no key with id ${activeEncryptionKeyId} in ENCRYPTION_KEYS`]);
  }
  return { signingKeys, encryptionKeys, activeEncryptionKeyId };
}
