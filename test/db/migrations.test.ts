// schema.prisma is the single source of truth and prisma/migrations must hold
// all of it (design/PRISMA-OFFLINE.md). These tests run the project's own
// migration commands on the Wasm schema engine, the only engine this network has.
import t, { type Test } from "tap";
import { createHash } from "node:crypto";
import { appendFile, cp, readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { openDatabase, type Database } from "../../src/db/database.ts";
import { createMigration, defaultMigrationPaths, pendingSchemaChanges, type MigrationPaths } from "../../src/db/migrations.ts";
import { freshDatabaseUrl } from "../helpers/app.ts";

const PROBE_MODEL = `
model MigrationProbe {
  id    Int    @id @default(autoincrement())
  label String
}
`;

interface MigrationRow {
  id: string;
  checksum: string;
  migration_name: string;
  started_at: Date;
  finished_at: Date | null;
  rolled_back_at: Date | null;
  logs: string | null;
  applied_steps_count: number;
}

/** A private copy of schema.prisma and the migrations that a test may change. */
async function copyOfProject(t: Test): Promise<MigrationPaths> {
  const dir = t.testdir();
  const paths = { schemaPath: path.join(dir, "schema.prisma"), migrationsDir: path.join(dir, "migrations") };
  await cp(defaultMigrationPaths.schemaPath, paths.schemaPath);
  await cp(defaultMigrationPaths.migrationsDir, paths.migrationsDir, { recursive: true });
  return paths;
}

async function migrationNames(migrationsDir: string): Promise<string[]> {
  const entries = await readdir(migrationsDir, { withFileTypes: true });
  return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
}

/** What `prisma migrate deploy` stores as the checksum: the SHA-256 of migration.sql, hex. */
async function expectedChecksum(name: string): Promise<string> {
  const sql = await readFile(path.join(defaultMigrationPaths.migrationsDir, name, "migration.sql"));
  return createHash("sha256").update(sql).digest("hex");
}

async function migrationRows(database: Database): Promise<MigrationRow[]> {
  return database.prisma.$queryRawUnsafe<MigrationRow[]>(
    `SELECT id, checksum, migration_name, started_at, finished_at, rolled_back_at, logs, applied_steps_count
       FROM _prisma_migrations ORDER BY migration_name`,
  );
}

t.test("schema.prisma and the migrations agree", async (t) => {
  const pending = await pendingSchemaChanges();
  t.equal(pending, "", "pending SQL should be empty; run `npm run migrate:create -- NAME` for the schema changes");
});

t.test("a schema change without a migration is detected, and createMigration writes one that closes the gap", async (t) => {
  const paths = await copyOfProject(t);
  await appendFile(paths.schemaPath, PROBE_MODEL);

  const pending = await pendingSchemaChanges(paths);
  t.match(pending, /CREATE TABLE "MigrationProbe"/, "the drift check names the new table");

  const before = await migrationNames(paths.migrationsDir);
  const created = await createMigration("add_migration_probe", paths, new Date("2099-01-01T00:00:00Z"));
  t.equal(created, "20990101000000_add_migration_probe");
  t.same(await migrationNames(paths.migrationsDir), [...before, created], "one new migration directory, ordered last");
  const sql = await readFile(path.join(paths.migrationsDir, created!, "migration.sql"), "utf8");
  t.match(sql, /CREATE TABLE "MigrationProbe"/);

  t.equal(await pendingSchemaChanges(paths), "", "nothing is pending once the migration exists");
  const again = await createMigration("nothing_to_do", paths);
  const unexpected = again ? await readFile(path.join(paths.migrationsDir, again, "migration.sql"), "utf8") : "";
  t.equal(again, null, again ? `no migration should be written, got ${again}:\n${unexpected}` : "no empty migration is written");
});

t.test("migrations apply to an empty database and record in _prisma_migrations like prisma migrate deploy; a second apply applies nothing", async (t) => {
  // The suite runs once per backend (.ci/run): PGlite always, PostgreSQL when TEST_DATABASE_URL names a server.
  const backends: [string, () => Promise<string | undefined>][] = [
    ["PGlite in memory", async () => undefined],
    ...(process.env.TEST_DATABASE_URL ? [["PostgreSQL", () => freshDatabaseUrl(t)] as [string, () => Promise<string | undefined>]] : []),
  ];
  for (const [label, databaseUrl] of backends) {
    t.test(label, async (t) => {
      const database = await openDatabase({ databaseUrl: await databaseUrl(), dataDir: "memory://", poolSize: 2 });
      t.teardown(() => database.close());
      await checkMigrationsApplyOnce(t, database);
    });
  }
});

async function checkMigrationsApplyOnce(t: Test, database: Database) {
  const names = await migrationNames(defaultMigrationPaths.migrationsDir);
  t.ok(names.length > 0, "the project has migrations");
  t.same(await database.migrate(), names, "every migration is applied, in order");

  const rows = await migrationRows(database);
  t.same(rows.map((r) => r.migration_name), names);
  for (const row of rows) {
    t.match(row.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, `${row.migration_name}: id is a UUID`);
    t.equal(row.checksum, await expectedChecksum(row.migration_name), `${row.migration_name}: checksum is the SHA-256 of migration.sql`);
    t.ok(row.finished_at instanceof Date, `${row.migration_name}: finished_at is set`);
    t.ok(row.finished_at! >= row.started_at, `${row.migration_name}: finished after it started`);
    t.equal(row.rolled_back_at, null, `${row.migration_name}: not rolled back`);
    t.equal(Number(row.applied_steps_count), 1, `${row.migration_name}: applied_steps_count is 1`);
  }

  t.same(await database.migrate(), [], "a second apply applies nothing");
  t.equal((await migrationRows(database)).length, names.length, "and records nothing new");
}
