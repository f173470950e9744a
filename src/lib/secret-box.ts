// Envelope encryption for TOTP seeds at rest: AES-256-GCM with keys held
// outside the database (RFC 6238 §5.1 RECOMMENDS encrypting keys; RFC 4226
// §7.5; ASVS 11.3.2, 11.3.3, 13.3.1; SECURITY-CHECKLIST SR-02).
//
// Stored format, version 1:  "v1." + base64url(nonce[12] ‖ tag[16] ‖ data)
// The key id travels in its own column, so keys can rotate: new rows are
// sealed with the active key, old rows open with the key they name (ASVS
// 11.2.2, SR-06). The "v1." prefix leaves room for another algorithm later.
//
// The caller's AAD binds a ciphertext to its row (userId‖credentialId): a
// ciphertext copied onto another user's row fails to open (SR-02).
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

export interface EncryptionKey {
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

export interface SecretBox {
  seal(plaintext: string, aad: string): { ciphertext: string; keyId: string };
  open(ciphertext: string, keyId: string, aad: string): string;
}

/** Opening failed: unknown key id, malformed ciphertext or failed authentication. */
export class SecretBoxError extends Error {
  override name = "SecretBoxError";
}

const ALGORITHM = "aes-256-gcm";
const KEY_BYTES = 32;
// NIST SP 800-38D §8.2.2: a 96-bit random IV. Random nonces stay safe for
// up to 2^32 messages per key, far beyond the number of TOTP enrolments.
const NONCE_BYTES = 12;
// NIST SP 800-38D §5.2.1.2: full 128-bit tag; also set on decipher so a
// truncated tag is never accepted.
const TAG_BYTES = 16;
const FORMAT_PREFIX = "v1.";
// Key ids are stored next to every ciphertext and appear in config and logs.
const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

export function createSecretBox(keys: EncryptionKey[], activeKeyId: string): SecretBox {
  const keyring = buildKeyring(keys);
  const activeKey = keyring.get(activeKeyId);
  if (activeKey === undefined) throw new Error(`active encryption key "${activeKeyId}" is not among the configured keys`);

  return {
    seal: (plaintext, aad) => ({ ciphertext: seal(activeKey, plaintext, aad), keyId: activeKeyId }),
    open: (ciphertext, keyId, aad) => {
      const key = keyring.get(keyId);
      if (key === undefined) throw new SecretBoxError(`unknown encryption key id "${keyId}"`);
      return open(key, ciphertext, aad);
    },
  };
}

function buildKeyring(keys: EncryptionKey[]): Map<string, Buffer> {
  const keyring = new Map<string, Buffer>();
  for (const { id, key } of keys) {
    if (!KEY_ID_PATTERN.test(id)) throw new Error(`encryption key id "${id}" must match ${KEY_ID_PATTERN}`);
    if (keyring.has(id)) throw new Error(`encryption key id "${id}" is configured twice`);
    // AES-256 (ASVS 11.3.2 approved cipher); a shorter key would silently pick AES-128.
    if (key.length !== KEY_BYTES) throw new Error(`encryption key "${id}" must be ${KEY_BYTES} bytes, got ${key.length}`);
    keyring.set(id, Buffer.from(key));
  }
  return keyring;
}

function seal(key: Buffer, plaintext: string, aad: string): string {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const data = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return FORMAT_PREFIX + Buffer.concat([nonce, cipher.getAuthTag(), data]).toString("base64url");
}

function open(key: Buffer, ciphertext: string, aad: string): string {
  const { nonce, tag, data } = splitEnvelope(ciphertext);
  const decipher = createDecipheriv(ALGORITHM, key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(aad, "utf8"));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(data), decipher.final()]).toString("utf8");
  } catch {
    // One message for wrong key, wrong AAD and tampering: which one it was
    // must not be learnable, and Node's own message adds nothing.
    throw new SecretBoxError("ciphertext failed authentication");
  }
}

function splitEnvelope(ciphertext: string): { nonce: Buffer; tag: Buffer; data: Buffer } {
  const body = ciphertext.startsWith(FORMAT_PREFIX) ? ciphertext.slice(FORMAT_PREFIX.length) : null;
  // Buffer.from(…, "base64url") skips characters it does not know; refuse them
  // so that a corrupted column fails here rather than as a tag mismatch.
  if (body === null || !/^[A-Za-z0-9_-]*$/.test(body)) throw new SecretBoxError("malformed ciphertext");
  const bytes = Buffer.from(body, "base64url");
  if (bytes.length < NONCE_BYTES + TAG_BYTES) throw new SecretBoxError("malformed ciphertext");
  return {
    nonce: bytes.subarray(0, NONCE_BYTES),
    tag: bytes.subarray(NONCE_BYTES, NONCE_BYTES + TAG_BYTES),
    data: bytes.subarray(NONCE_BYTES + TAG_BYTES),
  };
}

/**
 * Parses `id:KEY,id:KEY` where each KEY is base64 or base64url for exactly
 * 32 bytes. Errors name the entry and the problem, never the key material,
 * because they are printed at start-up.
 */
export function parseEncryptionKeys(spec: string): EncryptionKey[] {
  const entries = spec.split(",").map((entry) => entry.trim());
  if (spec.trim() === "") throw new Error("encryption keys: none configured; expected id:BASE64KEY[,id:BASE64KEY…]");
  return entries.map((entry, index) => parseEntry(entry, index + 1));
}

function parseEntry(entry: string, position: number): EncryptionKey {
  const where = `encryption keys: entry ${position}`;
  const colon = entry.indexOf(":");
  if (colon === -1) throw new Error(`${where}: expected id:BASE64KEY`);
  const id = entry.slice(0, colon).trim();
  const encoded = entry.slice(colon + 1).trim();
  if (!KEY_ID_PATTERN.test(id)) throw new Error(`${where}: key id must match ${KEY_ID_PATTERN}`);
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(encoded)) throw new Error(`${where} ("${id}"): key is not base64 or base64url`);
  // Node's base64 decoder accepts both alphabets.
  const key = Buffer.from(encoded, "base64");
  if (key.length !== KEY_BYTES) {
    throw new Error(`${where} ("${id}"): key must decode to ${KEY_BYTES} bytes, got ${key.length} (generate one with: openssl rand -base64 32)`);
  }
  return { id, key };
}
