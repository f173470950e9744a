// Each request's AbortSignal, aborted when its client hangs up before the answer
// is sent: work queued for it (a password hash) is dropped instead of done for
// nobody. Without it, the requests of a client that gave up (a timeout, a load
// generator's end) kept their places in the hashing queue, and the next callers
// were refused with 503 although fewer than the queue's depth were waiting.
import { AsyncLocalStorage } from "node:async_hooks";
import type { App } from "./app-type.ts";

export function registerCallerSignal(app: App): () => AbortSignal | undefined {
  const storage = new AsyncLocalStorage<AbortSignal>();
  app.addHook("onRequest", (_request, reply, done) => {
    const controller = new AbortController();
    // "close" also follows a completed answer; only one that never finished means the client left.
    reply.raw.once("close", () => { if (!reply.raw.writableFinished) controller.abort(); });
    storage.run(controller.signal, done);
  });
  return () => storage.getStore();
}
