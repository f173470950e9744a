// Where the VAPID key pair (RFC 8292 §3) comes from, like src/key-material.ts
// does for signing keys. Production takes it from the environment; development
// generates one on first start and keeps it under DATA_DIR, because browsers
// bind each subscription to the key it was made with (RFC 8292 §4): a new key
// on every restart would orphan every subscription.
import { createECDH } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import webpush from "web-push";
import { ConfigError, type Config } from "../../config.ts";

export interface VapidKeys {
  /** base64url uncompressed P-256 point: the applicationServerKey browsers subscribe with. */
  publicKey: string;
  /** base64url 32-byte private scalar. */
  privateKey: string;
  subject: string;
}

/** Development only: push services need a contact, and Apple's refuses a localhost one. */
export const DEVELOPMENT_VAPID_SUBJECT = "mailto:push-development@example.invalid";
const DEV_FILE = "vapid-keys.json";

export function generateVapidKeyPair(): { publicKey: string; privateKey: string } {
  return webpush.generateVAPIDKeys();
}

/** Problems with a configured pair: the wrong size, or halves of different keys. */
function keyProblems(publicKey: string, privateKey: string): string[] {
  const pub = Buffer.from(publicKey, "base64url");
  const priv = Buffer.from(privateKey, "base64url");
  if (pub.length !== 65 || pub[0] !== 0x04) return ["VAPID_PUBLIC_KEY: must be a base64url uncompressed P-256 point (65 bytes)"];
  if (priv.length !== 32) return ["VAPID_PRIVATE_KEY: must be 32 bytes in base64url"];
  try {
    const ecdh = createECDH("prime256v1");
    ecdh.setPrivateKey(priv);
    if (!ecdh.getPublicKey().equals(pub)) return ["VAPID_PUBLIC_KEY: is not the public half of VAPID_PRIVATE_KEY"];
  } catch {
    return ["VAPID_PRIVATE_KEY: not a valid P-256 private key"];
  }
  return [];
}

async function readOrCreateDevPair(dataDir: string): Promise<{ publicKey: string; privateKey: string }> {
  if (dataDir.startsWith("memory://")) return generateVapidKeyPair();
  const file = path.resolve(dataDir, DEV_FILE);
  const existing = await readFile(file, "utf8").catch(() => null);
  if (existing !== null) {
    const pair = JSON.parse(existing) as { publicKey: string; privateKey: string };
    const problems = keyProblems(pair.publicKey, pair.privateKey);
    if (problems.length > 0) throw new ConfigError(problems.map((p) => `${file}: ${p}`));
    return pair;
  }
  const pair = generateVapidKeyPair();
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(pair, null, 2)}\n`, { mode: 0o600 });
  return pair;
}

/**
 * The VAPID keys for this instance, or null when Web Push is off (production
 * without VAPID_* set). Half a pair is refused in every mode: it is a mistake
 * that generating a fresh pair would only hide.
 */
export async function resolveVapidKeys(config: Config): Promise<VapidKeys | null> {
  const { VAPID_PUBLIC_KEY: publicKey, VAPID_PRIVATE_KEY: privateKey, VAPID_SUBJECT: subject } = config;
  if (Boolean(publicKey) !== Boolean(privateKey)) {
    throw new ConfigError(["VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY: set both or neither (npm run cli -- push vapid-keys)"]);
  }
  if (publicKey && privateKey) {
    const problems = keyProblems(publicKey, privateKey);
    if (config.MODE === "production" && !subject) problems.push("VAPID_SUBJECT: required in production with VAPID keys (mailto: or https: contact)");
    if (problems.length > 0) throw new ConfigError(problems);
    return { publicKey, privateKey, subject: subject ?? DEVELOPMENT_VAPID_SUBJECT };
  }
  if (config.MODE === "production") return null;
  return { ...(await readOrCreateDevPair(config.DATA_DIR)), subject: subject ?? DEVELOPMENT_VAPID_SUBJECT };
}
