// Operator commands. Service API keys are created here, never over HTTP.
//   clients create --name NAME --scopes a,b [--json]   prints the key once
//   clients list | clients revoke ID
//   migrate deploy | migrate create NAME | migrate check
//   keys generate | keys rotate --file F --use access|device | keys encryption-key
//   push vapid-keys                                    prints a fresh Web Push key pair as env lines
//   notifications list [--dead] | notifications retry ID   the webhook outbox (dead rows and their retry)
// With the embedded database, stop the server first: PGlite allows one process.
import { parseArgs } from "node:util";
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { ConfigError, loadConfig } from "./config.ts";
import { openDatabase } from "./db/database.ts";
import { createMigration, pendingSchemaChanges } from "./db/migrations.ts";
import { createClientService, isScope, SCOPES } from "./clients/service.ts";
import { createClientRepository } from "./clients/repository.ts";
import { generateKeyRecord, loadKeyFile, rotateKeys, serializeKeyFile, KEY_USES, type KeyUse } from "./lib/signing-keys.ts";
import { generateVapidKeyPair } from "./push/delivery/vapid-keys.ts";
import { createAuditRepository } from "./audit/repository.ts";
import { listOutbox, retryOutboxMessage } from "./outbox/commands.ts";

class UsageError extends Error {}

async function withDatabase<T>(fn: (db: Awaited<ReturnType<typeof openDatabase>>) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const db = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR, poolSize: 2 });
  try {
    if (config.MIGRATE_ON_START) await db.migrate();
    return await fn(db);
  } finally {
    await db.close();
  }
}

async function clientsCommand(sub: string | undefined, args: string[]) {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { name: { type: "string" }, scopes: { type: "string" }, json: { type: "boolean", default: false } },
  });
  if (sub === "create") {
    if (!values.name) throw new UsageError("clients create needs --name NAME");
    const scopes = (values.scopes ?? "").split(",").map((s) => s.trim()).filter(Boolean);
    const unknown = scopes.filter((s) => !isScope(s));
    if (scopes.length === 0 || unknown.length > 0) throw new UsageError(`--scopes takes a comma list of: ${SCOPES.join(", ")}`);
    const created = await withDatabase((db) => createClientService(createClientRepository(db.prisma)).create(values.name!, scopes.filter(isScope)));
    if (values.json) process.stdout.write(`${JSON.stringify(created)}\n`);
    else process.stdout.write(`client id: ${created.id}\nAPI key (shown once, send as x-api-key): ${created.apiKey}\n`);
    return;
  }
  if (sub === "list") {
    const list = await withDatabase((db) => createClientService(createClientRepository(db.prisma)).list());
    process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
    return;
  }
  if (sub === "revoke" && positionals[0]) {
    const done = await withDatabase((db) => createClientService(createClientRepository(db.prisma)).revoke(positionals[0]!));
    if (!done) throw new UsageError(`no active client ${positionals[0]}`);
    process.stdout.write("revoked\n");
    return;
  }
  throw new UsageError("clients create --name NAME --scopes a,b [--json] | clients list | clients revoke ID");
}

async function migrateCommand(sub: string | undefined, args: string[]) {
  if (sub === "deploy") {
    const config = loadConfig();
    const db = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR, poolSize: 2 });
    try {
      const applied = await db.migrate();
      process.stdout.write(applied.length ? `applied: ${applied.join(", ")}\n` : "no pending migrations\n");
    } finally {
      await db.close();
    }
    return;
  }
  if (sub === "create") {
    const name = args[0];
    if (!name) throw new UsageError("migrate create NAME (lower-case, digits, _)");
    const dir = await createMigration(name);
    process.stdout.write(dir ? `created prisma/migrations/${dir}\n` : "schema.prisma and the migrations agree: nothing to create\n");
    return;
  }
  if (sub === "check") {
    const sql = await pendingSchemaChanges();
    if (sql.trim()) {
      process.stderr.write(`schema.prisma has changes no migration holds (run npm run migrate:create -- NAME):\n${sql}\n`);
      process.exitCode = 2;
    } else {
      process.stdout.write("schema.prisma and prisma/migrations agree\n");
    }
    return;
  }
  throw new UsageError("migrate deploy | migrate create NAME | migrate check");
}

async function keysCommand(sub: string | undefined, args: string[]) {
  const { values } = parseArgs({ args, options: { file: { type: "string" }, use: { type: "string" } } });
  const now = new Date();
  if (sub === "generate") {
    const file = { keys: await Promise.all(KEY_USES.map((use) => generateKeyRecord(use, now))) };
    process.stdout.write(serializeKeyFile(file));
    return;
  }
  if (sub === "rotate") {
    if (!values.file || !KEY_USES.includes(values.use as KeyUse)) throw new UsageError("keys rotate --file FILE --use access|device");
    const rotated = await rotateKeys(loadKeyFile(await readFile(values.file, "utf8")), values.use as KeyUse, now);
    await writeFile(values.file, serializeKeyFile(rotated), { mode: 0o600 });
    process.stdout.write(`rotated the ${values.use} key in ${values.file}; restart the instances to pick it up\n`);
    return;
  }
  if (sub === "encryption-key") {
    process.stdout.write(`k${now.getTime()}:${randomBytes(32).toString("base64url")}\n`);
    return;
  }
  throw new UsageError("keys generate | keys rotate --file FILE --use access|device | keys encryption-key");
}

function pushCommand(sub: string | undefined) {
  if (sub === "vapid-keys") {
    const { publicKey, privateKey } = generateVapidKeyPair();
    process.stdout.write(`VAPID_PUBLIC_KEY=${publicKey}\nVAPID_PRIVATE_KEY=${privateKey}\n`);
    return;
  }
  throw new UsageError("push vapid-keys");
}

async function notificationsCommand(sub: string | undefined, args: string[]) {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { dead: { type: "boolean", default: false } } });
  if (sub === "list") {
    const rows = await withDatabase((db) => listOutbox(createAuditRepository(db.prisma), { dead: values.dead }));
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  if (sub === "retry" && positionals[0]) {
    const outcome = await withDatabase((db) => retryOutboxMessage(createAuditRepository(db.prisma), positionals[0]!));
    if (outcome !== "revived") throw new UsageError(`no dead notification ${positionals[0]}`);
    process.stdout.write("queued for delivery\n");
    return;
  }
  throw new UsageError("notifications list [--dead] | notifications retry ID");
}

async function main(argv: string[]) {
  const [group, sub, ...rest] = argv;
  if (group === "clients") return clientsCommand(sub, rest);
  if (group === "migrate") return migrateCommand(sub, rest);
  if (group === "keys") return keysCommand(sub, rest);
  if (group === "push") return pushCommand(sub);
  if (group === "notifications") return notificationsCommand(sub, rest);
  throw new UsageError("usage: npm run cli -- clients|migrate|keys|push|notifications ...");
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError || error instanceof ConfigError) process.stderr.write(`${error.message}\n`);
  else process.stderr.write(`failed: ${(error as Error).message}\n`);
  process.exitCode = 1;
});
