// The part of autocannon 8's programmatic API the bench uses (the package ships no types).
declare module "autocannon" {
  export interface RequestParams { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer }
  export interface Request extends RequestParams {
    setupRequest?: (request: RequestParams, context: Record<string, unknown>) => RequestParams | null | undefined;
    onResponse?: (status: number, body: string, context: Record<string, unknown>, headers: Record<string, string | string[]>) => void;
  }
  export interface Options { url: string; connections?: number; duration?: number; timeout?: number; pipelining?: number; requests?: Request[] }
  export interface Result {
    latency: { p50: number; p99: number; mean: number; max: number };
    duration: number;
    errors: number;
    timeouts: number;
    statusCodeStats: Record<string, { count: number }>;
  }
  function autocannon(options: Options): PromiseLike<Result>;
  export default autocannon;
}
