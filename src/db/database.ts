// Opens the one database this instance uses: PostgreSQL through @prisma/adapter-pg
// when DATABASE_URL is set, otherwise the embedded PGlite (PostgreSQL in Wasm).
// Both run the same schema and migrations; nothing here is a module-level singleton.
import path from "node:path";
import { mkdir } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import type { SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import { PrismaClient, type Prisma as PrismaTypes } from "../generated/prisma/client.ts";
import { applyMigrations } from "./migrations.ts";

export type Prisma = PrismaClient;

/** What a repository runs its statements on: the client, or the client of an open transaction. */
export type Db = PrismaTypes.TransactionClient;

/** A SQL fragment (Prisma.sql), composable into one statement. */
export type Sql = PrismaTypes.Sql;

/**
 * Rows a request still owes the database (its audit rows; the outbox adds its
 * own), taken out of the request so that a hot path writes them inside its own
 * statement instead of a flush of their own: `statements(when)` gives each as a
 * CTE body guarded by the condition `when`; `restore()` puts them back when
 * that statement failed, so the flush at the end of the request still writes them.
 */
export interface PendingWrites {
  statements(when: Sql): Sql[];
  restore(): Promise<void>;
}

/**
 * One unit of work: the repositories handed to `work` share one transaction, so
 * what it writes across features is stored together or not at all. Services say
 * which repositories they need; the composition root binds them.
 */
export type Transaction<Repositories> = <T>(work: (repositories: Repositories) => Promise<T>) => Promise<T>;

/**
 * What a unit of work carries besides its repositories: the security events it
 * records (audit/service.ts). They are collected apart while `work` runs, are
 * written on the transaction's client just before COMMIT, and vanish with a
 * rollback: a change and its audit and outbox rows commit together or not at all.
 */
export interface UnitOfWorkHooks {
  /** Runs the unit of work where the events it records are held apart. */
  run<T>(work: () => Promise<T>): Promise<T>;
  /** Writes the held events on the transaction's client; the returned function runs once COMMIT succeeded. */
  beforeCommit(db: Db): Promise<() => void>;
}

/** Binds repositories to one transaction per unit of work, with its events when `events` is given. */
export function transactionOf<Repositories>(
  prisma: PrismaClient, bind: (db: Db) => Repositories, events?: UnitOfWorkHooks,
): Transaction<Repositories> {
  if (!events) return (work) => prisma.$transaction((tx) => work(bind(tx)));
  return (work) => events.run(async () => {
    let committed = () => {};
    const result = await prisma.$transaction(async (tx) => {
      const value = await work(bind(tx));
      committed = await events.beforeCommit(tx);
      return value;
    });
    committed();
    return result;
  });
}

/**
 * PostgreSQL LISTEN/NOTIFY (PGlite's own listen when embedded): a wake-up that
 * reaches every instance on this database. Delivered only at commit and never
 * replayed, so a listener always re-reads the row it was woken for.
 */
export interface Notifications {
  /** A dedicated connection (not the pool, not a transaction-mode PgBouncer) listens until the returned function is called. */
  listen(channel: string, onMessage: (payload: string) => void, onError: (error: unknown) => void): Promise<() => Promise<void>>;
  notify(channel: string, payload: string): Promise<void>;
}

export interface Database {
  prisma: PrismaClient;
  notifications: Notifications;
  kind: "postgresql" | "pglite";
  adapterFactory: SqlMigrationAwareDriverAdapterFactory;
  migrate(): Promise<string[]>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl?: string;
  /** Directory of the embedded database, or "memory://" for a throw-away one. */
  dataDir: string;
  poolSize: number;
  /** Called with every statement sent to the database (tests count round trips with it). */
  onStatement?: (sql: string) => void;
}

/**
 * PGlite starts PostgreSQL with its default shared_buffers of 128 MB, all of it resident
 * Wasm memory. One embedded process with one connection needs far less (the operating
 * system's page cache holds the files anyway): 16 MB takes ~120 MB off the resident set.
 */
const PGLITE_SETTINGS = { postgresqlconf: ["shared_buffers=16MB"] };

async function openPglite(dataDir: string) {
  if (dataDir.startsWith("memory://")) return new PGlite(PGLITE_SETTINGS);
  const dir = path.resolve(dataDir, "pglite");
  await mkdir(dir, { recursive: true });
  return new PGlite(dir, PGLITE_SETTINGS);
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  let adapterFactory: SqlMigrationAwareDriverAdapterFactory;
  let closeDriver: () => Promise<void>;
  let kind: Database["kind"];
  let listen: Notifications["listen"];
  let notify: ((channel: string, payload: string) => Promise<void>) | null = null;
  if (options.databaseUrl) {
    const url = options.databaseUrl;
    listen = async (channel, onMessage, onError) => {
      const client = new pg.Client({ connectionString: url });
      client.on("error", onError);
      client.on("notification", (m) => { if (m.channel === channel && m.payload) onMessage(m.payload); });
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      return async () => { await client.end().catch(() => {}); };
    };
    kind = "postgresql";
    adapterFactory = new PrismaPg({
      connectionString: options.databaseUrl,
      max: options.poolSize,
      connectionTimeoutMillis: 5_000,
      // AV-04: a statement never hangs a request forever.
      statement_timeout: 10_000,
    });
    closeDriver = async () => {};
  } else {
    kind = "pglite";
    const pglite = await openPglite(options.dataDir);
    listen = async (channel, onMessage) => pglite.listen(channel, onMessage);
    // Through PGlite itself: it hands notifications to its listeners only for its own queries.
    notify = async (channel, payload) => { await pglite.query("SELECT pg_notify($1, $2)", [channel, payload]); };
    adapterFactory = new PrismaPGlite(pglite);
    closeDriver = () => pglite.close();
  }
  const prisma = new PrismaClient({ adapter: options.onStatement ? observed(adapterFactory, options.onStatement) : adapterFactory });
  return {
    prisma,
    kind,
    adapterFactory,
    notifications: {
      listen: (channel, onMessage, onError) => listen(channel, onMessage, onError),
      notify: async (channel, payload) => { await (notify ? notify(channel, payload) : prisma.$executeRaw`SELECT pg_notify(${channel}, ${payload})`); },
    },
    migrate: () => applyMigrations(adapterFactory),
    ping: async () => { await prisma.$queryRaw`SELECT 1`; },
    close: async () => {
      await prisma.$disconnect();
      await closeDriver();
    },
  };
}

type Queryable = { queryRaw?: unknown; executeRaw?: unknown };

/**
 * The adapter, reporting each statement it sends: a query, an execute, and a
 * transaction's BEGIN and COMMIT or ROLLBACK are each one round trip.
 */
function observed(factory: SqlMigrationAwareDriverAdapterFactory, onStatement: (sql: string) => void): SqlMigrationAwareDriverAdapterFactory {
  const watch = <T extends object>(target: T): T => new Proxy(target, {
    get(object, property, receiver) {
      const value = Reflect.get(object, property, receiver) as unknown;
      if (typeof value !== "function") return value;
      const call = (...args: unknown[]) => (value as (...a: unknown[]) => unknown).apply(object, args);
      if (property === "queryRaw" || property === "executeRaw") {
        return (query: { sql: string }) => { onStatement(query.sql); return call(query); };
      }
      if (property === "startTransaction") return async (...args: unknown[]) => { onStatement("BEGIN"); return watch((await call(...args)) as Queryable); };
      if (property === "commit" || property === "rollback") return () => { onStatement(String(property).toUpperCase()); return call(); };
      return call;
    },
  });
  return new Proxy(factory, {
    get(object, property, receiver) {
      const value = Reflect.get(object, property, receiver) as unknown;
      if (property === "connect") return async () => watch(await factory.connect());
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(object) : value;
    },
  });
}
