// A webhook receiver on loopback for end-to-end notification tests: it records
// each delivery with its signature headers and answers 204.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Test } from "tap";

const WAIT_LIMIT_MS = 5_000;

export interface Delivery { timestamp: string; signature: string; webhookId: string; body: string; payload: Record<string, unknown> }

export async function startReceiver(t: Test) {
  const deliveries: Delivery[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => { body += chunk; });
    req.on("end", () => {
      deliveries.push({
        timestamp: String(req.headers["x-webhook-timestamp"]),
        signature: String(req.headers["x-webhook-signature"]),
        webhookId: String(req.headers["x-webhook-id"]),
        body,
        payload: JSON.parse(body),
      });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as AddressInfo;

  /** The delivery of one event type, polled with a bounded wait (deliveries run in the background). */
  async function waitFor(type: string): Promise<Delivery> {
    const deadline = Date.now() + WAIT_LIMIT_MS;
    for (;;) {
      const found = deliveries.find((d) => d.payload.type === type);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no ${type} notification within ${WAIT_LIMIT_MS} ms; got ${deliveries.map((d) => d.payload.type).join(", ")}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  return { url: `http://127.0.0.1:${port}/hook`, deliveries, waitFor };
}

