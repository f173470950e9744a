// Test data over the public HTTP API (and the CLI for the service client), with bounded
// concurrency and a timeout on every request.
import { randomBytes } from "node:crypto";
import { runCli } from "./server.ts";

export interface BenchUser {
  email: string;
  password: string;
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
}

const REQUEST_TIMEOUT_MS = 30_000;

/** Runs fn over items with at most `limit` in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: unknown }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // keep the text for the error message
  }
  return { status: res.status, json };
}

/** `clients create --json` through the CLI, as an operator would. */
export async function createServiceClient(root: string, env: Record<string, string>): Promise<{ id: string; apiKey: string }> {
  const out = await runCli(root, env, ["clients", "create", "--name", "bench", "--scopes", "users:write,tokens:introspect", "--json"]);
  const created = JSON.parse(out.trim().split("\n").pop() ?? "{}") as { id?: string; apiKey?: string };
  if (!created.id || !created.apiKey) throw new Error(`unexpected CLI output: ${out}`);
  return { id: created.id, apiKey: created.apiKey };
}

/** A distinct password per user: passes the policy (length, blocklist, context) and is not shared. */
function passwordFor(index: number): string {
  return `bench ${index} ${randomBytes(9).toString("base64url")} staple`;
}

export async function createUsers(baseUrl: string, apiKey: string, count: number, concurrency: number): Promise<BenchUser[]> {
  const run = randomBytes(3).toString("hex");
  const users = Array.from({ length: count }, (_, i) => ({ email: `bench-${run}-${i}@example.com`, password: passwordFor(i) }));
  await mapLimit(users, concurrency, async (user, i) => {
    const res = await postJson(`${baseUrl}/v1/users`, { ...user, name: `Bench User ${i}` }, { "x-api-key": apiKey });
    if (res.status !== 201) throw new Error(`POST /v1/users → ${res.status} ${JSON.stringify(res.json)}`);
  });
  return users;
}

/** One password sign-in per user; every answer must be `authenticated`. */
export async function loginAll(baseUrl: string, users: readonly BenchUser[], concurrency: number): Promise<TokenPair[]> {
  return mapLimit(users, concurrency, async (user) => {
    const res = await postJson(`${baseUrl}/v1/auth/login`, user);
    const body = res.json as { status?: string; accessToken?: string; refreshToken?: string };
    if (res.status !== 200 || body.status !== "authenticated" || !body.accessToken || !body.refreshToken) {
      throw new Error(`POST /v1/auth/login → ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
    }
    return { accessToken: body.accessToken, refreshToken: body.refreshToken };
  });
}
