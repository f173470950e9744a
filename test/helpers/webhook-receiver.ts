// A webhook receiver on loopback for end-to-end notification tests: it records
// each delivery with its Standard Webhooks headers (and the former x-webhook-*
// ones, when sent) and answers 204, or as the test's script says.
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Test } from "tap";

const WAIT_LIMIT_MS = 5_000;

export interface Delivery {
  webhookId: string;
  timestamp: string;
  signature: string;
  headers: IncomingHttpHeaders;
  body: string;
  payload: Record<string, unknown>;
}

/** How the receiver answers its n-th request (1-based); a status of null never answers. */
export type Script = (n: number, delivery: Delivery) => { status: number | null; delayMs?: number; headers?: Record<string, string> };

export async function startReceiver(t: Test, script: Script = () => ({ status: 204 })) {
  const deliveries: Delivery[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const answer = (res: ServerResponse, step: ReturnType<Script>) => {
    if (step.status === null || res.destroyed) return;
    res.writeHead(step.status, step.headers).end();
  };
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => { body += chunk; });
    req.on("end", () => {
      const delivery: Delivery = {
        webhookId: String(req.headers["webhook-id"]),
        timestamp: String(req.headers["webhook-timestamp"]),
        signature: String(req.headers["webhook-signature"]),
        headers: req.headers,
        body,
        payload: JSON.parse(body),
      };
      deliveries.push(delivery);
      const step = script(deliveries.length, delivery);
      if (!step.delayMs) return answer(res, step);
      const timer = setTimeout(() => { timers.delete(timer); answer(res, step); }, step.delayMs);
      timers.add(timer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => {
    for (const timer of timers) clearTimeout(timer);
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as AddressInfo;

  /** The delivery of one event type, polled with a bounded wait (deliveries run in the background). */
  async function waitFor(type: string, limitMs = WAIT_LIMIT_MS): Promise<Delivery> {
    const deadline = Date.now() + limitMs;
    for (;;) {
      const found = deliveries.find((d) => d.payload.type === type);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no ${type} notification within ${limitMs} ms; got ${deliveries.map((d) => d.payload.type).join(", ")}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Waits until `count` requests arrived (bounded). */
  async function waitForCount(count: number, limitMs = WAIT_LIMIT_MS): Promise<Delivery[]> {
    const deadline = Date.now() + limitMs;
    while (deliveries.length < count) {
      if (Date.now() > deadline) throw new Error(`${deliveries.length} of ${count} requests within ${limitMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return deliveries;
  }
  return { url: `http://127.0.0.1:${port}/hook`, port, deliveries, waitFor, waitForCount };
}
