// autocannon, wrapped: a warm-up run that is not counted, then the measured run inside
// ctx.measure (CPU and memory accounting), with every response's status and body checked.
import autocannon, { type Request, type Result } from "autocannon";
import type { BenchContext, HttpFigures } from "./context.ts";

export interface LoadSpec {
  connections: number;
  /** The request to send; `next()` builds each one (varying body or headers). */
  method: "GET" | "POST";
  path: string;
  headers?: Record<string, string>;
  /**
   * Builds the next request, just before it is written. `context` is autocannon's per-connection
   * object: with pipelining 1 the same object reaches `onResponse` for this request's answer
   * (it is reset only when the next request is built), so it can carry what this request used.
   */
  next?: (context: Record<string, unknown>) => { body?: string; headers?: Record<string, string> };
  /** A 200 whose body fails this check counts as a bad response. */
  check?: (body: string) => boolean;
  /** Sees every response (e.g. to collect the next refresh token of a chain). Not called for socket errors or timeouts. */
  onResponse?: (status: number, body: string, context: Record<string, unknown>) => void;
}

const MAX_SAMPLES = 3;
/** autocannon's per-request timeout: an answer that takes longer is counted as a timeout. */
export const REQUEST_TIMEOUT_SECONDS = 10;

function requestsFor(spec: LoadSpec, tally: { badBodies: number; samples: string[] }): Request[] {
  const base = { method: spec.method, path: spec.path, headers: { ...spec.headers } };
  const request: Request = {
    ...base,
    onResponse(status, body, context) {
      spec.onResponse?.(status, body, context);
      const bad = status !== 200 || (spec.check ? !spec.check(body) : false);
      if (!bad) return;
      if (status === 200) tally.badBodies++;
      if (tally.samples.length < MAX_SAMPLES) tally.samples.push(`${status} ${body.slice(0, 300)}`);
    },
  };
  const { next } = spec;
  if (next) {
    request.setupRequest = (req, context) => {
      const varied = next(context);
      return { ...req, headers: { ...req.headers, ...varied.headers }, ...(varied.body !== undefined ? { body: varied.body } : {}) };
    };
  }
  return [request];
}

function summarize(result: Result, tally: { badBodies: number; samples: string[] }): HttpFigures {
  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats)) statusCodes[code] = count;
  const completed = Object.values(statusCodes).reduce((a, b) => a + b, 0);
  const non200 = completed - (statusCodes["200"] ?? 0);
  return {
    durationSeconds: result.duration,
    requests: completed,
    rps: completed / result.duration,
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max, mean: result.latency.mean },
    statusCodes,
    non2xx: result.non2xx,
    non200,
    badBodies: tally.badBodies,
    errors: result.errors,
    timeouts: result.timeouts,
    failureSamples: tally.samples,
  };
}

/** Warm-up (not counted, but its failures are reported) then the measured run. */
export async function runLoad(ctx: BenchContext, spec: LoadSpec) {
  const options = { url: ctx.baseUrl, connections: spec.connections, timeout: REQUEST_TIMEOUT_SECONDS, pipelining: 1 };
  const warmTally = { badBodies: 0, samples: [] as string[] };
  const warm = ctx.options.warmupSeconds > 0
    ? summarize(await autocannon({ ...options, duration: ctx.options.warmupSeconds, requests: requestsFor(spec, warmTally) }), warmTally)
    : undefined;
  const tally = { badBodies: 0, samples: [] as string[] };
  const { value, usage } = await ctx.measure(async () => autocannon({ ...options, duration: ctx.options.durationSeconds, requests: requestsFor(spec, tally) }));
  return { figures: summarize(value, tally), usage, warmupFailures: warm ? warm.non200 + warm.badBodies + warm.errors + warm.timeouts : 0 };
}
