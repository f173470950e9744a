// autocannon on loopback: one measured run, every answer checked; only answers that did the job
// (status 200 and the scenario's body check) count as ok.
import autocannon from "autocannon";

export interface LoadSpec {
  baseUrl: string;
  connections: number;
  seconds: number;
  method: "GET" | "POST";
  path: string;
  headers?: Record<string, string>;
  /** The next request's body or headers, built just before it is written; `context` reaches this request's onResponse (pipelining 1). */
  next?: (context: Record<string, unknown>) => { body?: string; headers?: Record<string, string> };
  ok: (body: string) => boolean;
  onResponse?: (status: number, body: string, context: Record<string, unknown>) => void;
}

export interface LoadFigures {
  ok: number;
  okPerSecond: number;
  answers: number;
  statusCodes: Record<string, number>;
  errors: number;
  timeouts: number;
  p50Ms: number;
  p99Ms: number;
  notOkSamples: string[];
}

export async function runLoad(spec: LoadSpec): Promise<LoadFigures> {
  let ok = 0;
  const samples: string[] = [];
  const { next } = spec;
  const result = await autocannon({
    url: spec.baseUrl, connections: spec.connections, duration: spec.seconds, timeout: 10, pipelining: 1,
    requests: [{
      method: spec.method, path: spec.path, headers: { ...spec.headers },
      ...(next ? { setupRequest: (req, context) => { const v = next(context); return { ...req, headers: { ...req.headers, ...v.headers }, ...(v.body === undefined ? {} : { body: v.body }) }; } } : {}),
      onResponse(status, body, context) {
        spec.onResponse?.(status, body, context);
        if (status === 200 && spec.ok(body)) ok++;
        else if (samples.length < 3) samples.push(`${status} ${body.slice(0, 200)}`);
      },
    }],
  });
  const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, { count }]) => [code, count]));
  return {
    ok, okPerSecond: ok / result.duration, answers: Object.values(statusCodes).reduce((a, b) => a + b, 0), statusCodes,
    errors: result.errors, timeouts: result.timeouts, p50Ms: result.latency.p50, p99Ms: result.latency.p99, notOkSamples: samples,
  };
}
