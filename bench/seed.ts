// Seeds a service's database through that service's own repositories and services, in a child
// process started in the service's checkout (`node --import tsx <this file> ROOT SPEC OUT`), so a
// baseline checkout is seeded with its own code and schema. Run before the server starts: PGlite
// lets one process at a time open DATA_DIR. Keys come from resolveKeyMaterial(), which in
// development writes them under DATA_DIR, where the server then finds the same ones.
import { randomUUID } from "node:crypto";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";

export interface SeedSpec { plainUsers: number; mfaUsers: number; tokensPerUser: number; password: string }
export interface Seeded { apiKey: string; plain: string[]; mfa: { secret: string; tokens: string[] }[]; seconds: number }

export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => { while (next < items.length) { const i = next++; results[i] = await fn(items[i]!, i); } };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

async function seed(root: string, spec: SeedSpec): Promise<Seeded> {
  const started = performance.now();
  const from = async <M>(file: string) => (await import(pathToFileURL(path.join(root, "src", file)).href)) as M;
  const { loadConfig } = await from<typeof import("../src/config.ts")>("config.ts");
  const { resolveKeyMaterial } = await from<typeof import("../src/key-material.ts")>("key-material.ts");
  const { openDatabase, transactionOf } = await from<typeof import("../src/db/database.ts")>("db/database.ts");
  const { createPasswordHasher } = await from<typeof import("../src/lib/passwords.ts")>("lib/passwords.ts");
  const { createSecretBox } = await from<typeof import("../src/lib/secret-box.ts")>("lib/secret-box.ts");
  const { generateTotpSecret, timeStepAt } = await from<typeof import("../src/lib/totp.ts")>("lib/totp.ts");
  const { seedAad } = await from<typeof import("../src/mfa/second-factor.ts")>("mfa/second-factor.ts");
  const { createUserRepository } = await from<typeof import("../src/accounts/repository.ts")>("accounts/repository.ts");
  const { createMfaRepository } = await from<typeof import("../src/mfa/repository.ts")>("mfa/repository.ts");
  const { createChallengeRepository } = await from<typeof import("../src/mfa/challenge-repository.ts")>("mfa/challenge-repository.ts");
  const { createChallengeService } = await from<typeof import("../src/mfa/challenges.ts")>("mfa/challenges.ts");
  const { createClientRepository } = await from<typeof import("../src/clients/repository.ts")>("clients/repository.ts");
  const { createClientService } = await from<typeof import("../src/clients/service.ts")>("clients/service.ts");

  const config = loadConfig(process.env);
  const keys = await resolveKeyMaterial(config);
  const database = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR, poolSize: config.DATABASE_POOL_SIZE });
  try {
    await database.migrate();
    const { prisma } = database;
    const users = createUserRepository(prisma);
    const mfa = transactionOf(prisma, (tx) => createMfaRepository(tx));
    const clock = { now: () => new Date() };
    const challenges = createChallengeService(createChallengeRepository(prisma), { ttlSeconds: config.MFA_TOKEN_TTL_SECONDS, maxAttempts: config.MFA_MAX_ATTEMPTS_PER_TOKEN }, clock);
    const box = createSecretBox(keys.encryptionKeys, keys.activeEncryptionKeyId);
    const { apiKey } = await createClientService(createClientRepository(prisma)).create("bench", ["tokens:introspect", "users:write"]);
    // One hash at the server's parameters for every user: each sign-in still costs the server one full verify.
    const hasher = createPasswordHasher({ memoryCost: config.ARGON2_MEMORY_KIB, timeCost: config.ARGON2_TIME_COST, parallelism: config.ARGON2_PARALLELISM });
    const passwordHash = await hasher.hash(spec.password);
    const run = randomUUID().slice(0, 6);
    const insertUser = async (email: string) => {
      const user = await users.insert({ email, name: "Bench User", passwordHash });
      if (!user) throw new Error(`could not insert ${email}`);
      return user.id;
    };
    const plain = await mapLimit(Array.from({ length: spec.plainUsers }, (_, i) => `bench-${run}-${i}@example.com`), 8, async (email) => { await insertUser(email); return email; });
    // A confirmed TOTP factor as enrollment leaves it (pending, then activated with a step long past), and live MFA tokens.
    const mfaUsers = await mapLimit(Array.from({ length: spec.mfaUsers }, (_, i) => i), 8, async (i) => {
      const userId = await insertUser(`bench-mfa-${run}-${i}@example.com`);
      const factorId = randomUUID();
      const secret = generateTotpSecret();
      const sealed = box.seal(secret, seedAad(userId, factorId));
      const now = new Date();
      await mfa(async (tx) => {
        await tx.savePendingFactor({ id: factorId, userId, secretCiphertext: sealed.ciphertext, encryptionKeyId: sealed.keyId });
        if (!(await tx.activateFactor({ factorId, userId, step: timeStepAt(now) - 10, now, recoveryCodeHashes: [] }))) throw new Error("factor not activated");
      });
      const tokens: string[] = [];
      for (let k = 0; k < spec.tokensPerUser; k++) tokens.push((await challenges.issue("mfa", userId, ["pwd"], now)).token);
      return { secret, tokens };
    });
    return { apiKey, plain, mfa: mfaUsers, seconds: (performance.now() - started) / 1000 };
  } finally {
    await database.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const [root, spec, out] = process.argv.slice(2);
  seed(path.resolve(root!), JSON.parse(spec!) as SeedSpec)
    .then((seeded) => writeFile(out!, JSON.stringify(seeded)))
    .then(() => process.exit(0), (error: unknown) => { process.stderr.write(`seed failed: ${(error as Error).stack}\n`); process.exit(1); });
}
