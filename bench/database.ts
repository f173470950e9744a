// The bench's own PostgreSQL database: created fresh on BENCH_DATABASE_URL, dropped afterwards.
import pg from "pg";

export const DEFAULT_BENCH_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres";

export interface BenchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

function withDatabaseName(base: string, name: string): string {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

async function adminQuery<T extends pg.QueryResultRow = pg.QueryResultRow>(url: string, sql: string): Promise<pg.QueryResult<T>> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await client.query<T>(sql);
  } finally {
    await client.end();
  }
}

export async function createBenchDatabase(baseUrl: string, now = new Date()): Promise<BenchDatabase> {
  const stamp = now.toISOString().replace(/[-:TZ.]/g, ""); // 20250101123456789 (UTC, ms)
  const name = `identity_bench_${stamp}`;
  await adminQuery(baseUrl, `CREATE DATABASE ${name}`);
  let dropped = false;
  return {
    name,
    url: withDatabaseName(baseUrl, name),
    async drop() {
      if (dropped) return;
      dropped = true;
      await adminQuery(baseUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

export async function postgresVersion(url: string): Promise<string> {
  const result = await adminQuery<{ version: string }>(url, "SELECT version()");
  return result.rows[0]?.version ?? "unknown";
}

/** The PostgreSQL version inside the installed PGlite package (asked of a throw-away in-memory instance). */
export async function pgliteVersion(): Promise<string> {
  const { PGlite } = await import("@electric-sql/pglite");
  const db = new PGlite();
  try {
    const result = await db.query<{ version: string }>("SELECT version()");
    return result.rows[0]?.version ?? "unknown";
  } finally {
    await db.close();
  }
}
