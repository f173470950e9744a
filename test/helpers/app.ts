// Every HTTP test builds the service with the production buildApp. The database
// is real: PostgreSQL when TEST_DATABASE_URL is set (a fresh database per app,
// dropped afterwards, so test files run in parallel), otherwise an in-memory PGlite.
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import pg from "pg";
import type { Test } from "tap";
import { buildApp } from "../../src/app.ts";
import { loadConfig, type Config } from "../../src/config.ts";
import { createClientService, type Scope } from "../../src/clients/service.ts";
import { createClientRepository } from "../../src/clients/repository.ts";
import { openDatabase, type Database } from "../../src/db/database.ts";
import type { Clock } from "../../src/lib/clock.ts";
import type { App } from "../../src/http/app-type.ts";
import type { PushSender } from "../../src/push/delivery/sender.ts";
import { recordProblem } from "./problem-observations.ts";

export const TEST_PASSWORD = "correct horse battery staple";

function databaseUrlFor(base: string, name: string): string {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A fresh PostgreSQL database for one test app, or undefined on PGlite. */
export async function freshDatabaseUrl(t: Test): Promise<string | undefined> {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) return undefined;
  const name = `idtest_${process.pid}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  t.teardown(async () => {
    const c = new pg.Client({ connectionString: base });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  });
  return databaseUrlFor(base, name);
}

export function testConfig(overrides: Partial<Config> = {}, databaseUrl?: string): Config {
  return loadConfig({}, {
    DATA_DIR: "memory://",
    LOG_LEVEL: "silent",
    LOGIN_RATE_PER_IP: 10_000,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...overrides,
  });
}

/** Collects every log line an app writes. */
export function logCapture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  return { stream, lines };
}

export interface StartOptions {
  config?: Partial<Config>;
  clock?: Clock;
  logStream?: Writable;
  database?: Database;
  /** A push sender of the test's own (built with the production factory), instead of the one the config gives. */
  pushSender?: PushSender;
}

export async function startApp(t: Test, options: StartOptions = {}): Promise<App> {
  const databaseUrl = options.database ? undefined : await freshDatabaseUrl(t);
  const config = testConfig({ ...(options.logStream ? { LOG_LEVEL: "info" } : {}), ...options.config }, databaseUrl);
  const app = await buildApp({
    config, clock: options.clock, logStream: options.logStream, database: options.database, pushSender: options.pushSender, observeProblem: recordProblem,
  });
  t.teardown(() => app.close());
  return app;
}

/** One migrated database that several app instances share (a multi-instance deployment). */
export async function sharedDatabase(t: Test): Promise<Database> {
  const databaseUrl = await freshDatabaseUrl(t);
  const db = await openDatabase({ databaseUrl, dataDir: "memory://", poolSize: 10 });
  await db.migrate();
  t.teardown(() => db.close());
  return db;
}

export async function createApiKey(app: App, scopes: Scope[]): Promise<string> {
  const { apiKey } = await createClientService(createClientRepository(app.database.prisma)).create(`test-${scopes.join("+")}`, scopes);
  return apiKey;
}

export async function createUser(app: App, email = `u${randomBytes(4).toString("hex")}@example.com`, password = TEST_PASSWORD) {
  const apiKey = await createApiKey(app, ["users:write"]);
  const res = await app.inject({ method: "POST", url: "/v1/users", headers: { "x-api-key": apiKey }, payload: { email, password, name: "Test Person" } });
  if (res.statusCode !== 201) throw new Error(`createUser: ${res.statusCode} ${res.body}`);
  return { id: res.json().id as string, email, password };
}

export async function login(app: App, email: string, password = TEST_PASSWORD, extra: Record<string, unknown> = {}) {
  return app.inject({ method: "POST", url: "/v1/auth/login", payload: { email, password, ...extra } });
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
