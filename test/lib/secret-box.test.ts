import t from "tap";
import { randomBytes } from "node:crypto";
import { createSecretBox, parseEncryptionKeys, SecretBoxError, type EncryptionKey } from "../../src/lib/secret-box.ts";

const SEED = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const AAD = "user-1|credential-1";

function newKey(id: string): EncryptionKey {
  return { id, key: randomBytes(32) };
}

t.test("a sealed secret opens to the same plaintext", async (t) => {
  const box = createSecretBox([newKey("k1")], "k1");
  const sealed = box.seal(SEED, AAD);
  t.equal(sealed.keyId, "k1");
  t.equal(box.open(sealed.ciphertext, sealed.keyId, AAD), SEED);
  t.equal(box.open(box.seal("", AAD).ciphertext, "k1", AAD), "", "empty plaintext");
});

t.test("a ciphertext is not the plaintext", async (t) => {
  const box = createSecretBox([newKey("k1")], "k1");
  const first = box.seal(SEED, AAD).ciphertext;
  t.notMatch(first, SEED);
  t.notMatch(Buffer.from(first.slice(3), "base64url").toString("latin1"), SEED, "nor inside the decoded bytes");
  t.match(first, /^v1\.[A-Za-z0-9_-]+$/, "versioned, base64url");
  t.not(box.seal(SEED, AAD).ciphertext, first, "a fresh nonce each time");
});

t.test("swapped AAD fails", async (t) => {
  // SR-02: copying one user's ciphertext onto another user's row must not work.
  const box = createSecretBox([newKey("k1")], "k1");
  const alice = box.seal(SEED, "user-alice|credential-1");
  t.throws(() => box.open(alice.ciphertext, alice.keyId, "user-bob|credential-2"), SecretBoxError);
});

t.test("a tampered byte fails", async (t) => {
  const box = createSecretBox([newKey("k1")], "k1");
  const { ciphertext } = box.seal(SEED, AAD);
  const bytes = Buffer.from(ciphertext.slice(3), "base64url");
  // One byte each in the nonce, the tag and the data.
  for (const index of [0, 12, bytes.length - 1]) {
    const tampered = Buffer.from(bytes);
    tampered[index]! ^= 0x01;
    t.throws(() => box.open(`v1.${tampered.toString("base64url")}`, "k1", AAD), SecretBoxError, `byte ${index}`);
  }
  t.throws(() => box.open(ciphertext.slice(0, 20), "k1", AAD), SecretBoxError, "truncated");
  t.throws(() => box.open(ciphertext.slice(3), "k1", AAD), SecretBoxError, "missing version");
  t.throws(() => box.open(`${ciphertext}!`, "k1", AAD), SecretBoxError, "not base64url");
});

t.test("rotation: data sealed with an old key still opens after a new active key is added", async (t) => {
  const k1 = newKey("k1");
  const k2 = newKey("k2");
  const sealedWithK1 = createSecretBox([k1], "k1").seal(SEED, AAD);
  const rotated = createSecretBox([k1, k2], "k2");
  t.equal(rotated.open(sealedWithK1.ciphertext, sealedWithK1.keyId, AAD), SEED);
  const resealed = rotated.seal(SEED, AAD);
  t.equal(resealed.keyId, "k2", "new data uses the active key");
  t.throws(() => rotated.open(resealed.ciphertext, "k1", AAD), SecretBoxError, "the wrong key id fails");
});

t.test("unknown key id fails", async (t) => {
  const sealed = createSecretBox([newKey("k1")], "k1").seal(SEED, AAD);
  t.throws(() => createSecretBox([newKey("k2")], "k2").open(sealed.ciphertext, "k1", AAD), SecretBoxError);
});

t.test("a 16-byte key is refused", async (t) => {
  t.throws(() => createSecretBox([{ id: "k1", key: randomBytes(16) }], "k1"), /32 bytes, got 16/);
  t.throws(() => createSecretBox([newKey("k1")], "k2"), /active encryption key "k2"/, "missing active id");
  t.throws(() => createSecretBox([newKey("k1"), newKey("k1")], "k1"), /configured twice/, "duplicate id");
});

t.test("key config parses base64 and base64url, and errors never echo the key", async (t) => {
  const a = randomBytes(32);
  const b = randomBytes(32);
  const keys = parseEncryptionKeys(` k1:${a.toString("base64")} , k2:${b.toString("base64url")}`);
  t.same(keys.map(({ id }) => id), ["k1", "k2"]);
  t.ok(keys[0]!.key.equals(a) && keys[1]!.key.equals(b));

  const short = randomBytes(16).toString("base64");
  const failures: Array<[string, RegExp]> = [
    ["", /none configured/],
    ["k1", /expected id:BASE64KEY/],
    [`:${a.toString("base64")}`, /key id must match/],
    [`k1:${short}`, /must decode to 32 bytes, got 16/],
    [`k1:${a.toString("base64")}$`, /not base64/],
    [`k1:${a.toString("base64")},`, /entry 2: expected id:BASE64KEY/],
  ];
  for (const [spec, message] of failures) {
    const error = t.throws(() => parseEncryptionKeys(spec), message, JSON.stringify(spec.slice(0, 8)));
    t.notMatch(String(error), a.toString("base64"), "key material not in the message");
    t.notMatch(String(error), short, "key material not in the message");
  }
});
