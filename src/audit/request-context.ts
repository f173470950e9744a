// Who is calling and from where, available to the audit log without threading
// the request through every service. One AsyncLocalStorage per app instance.
import { AsyncLocalStorage } from "node:async_hooks";
import type { FastifyRequest } from "fastify";
import type { App } from "../http/app-type.ts";
import type { Caller } from "../http/guards.ts";
import type { PendingEvents } from "./repository.ts";

export interface Actor {
  type: "user" | "service" | "anonymous" | "system";
  id: string | null;
}

export interface RequestContext {
  requestId: string | null;
  clientAddress: string | null;
  userAgent: string | null;
  actor(): Actor;
  /**
   * Events recorded and not yet stored (audit rows and outbox rows): the
   * request's, written in one statement before its response leaves, or a unit
   * of work's, written inside its transaction. Null where events are written at once.
   */
  pending: PendingEvents | null;
  /** Inside a unit of work: the request's pending events around it (null outside one). */
  outer: PendingEvents | null;
}

export const noPendingEvents = (): PendingEvents => ({ audit: [], outbox: [] });

const systemContext = (): RequestContext => ({
  requestId: null, clientAddress: null, userAgent: null, actor: () => ({ type: "system", id: null }), pending: null, outer: null,
});

function actorOf(request: FastifyRequest): Actor {
  const caller: Caller | undefined = request.caller;
  return caller ?? { type: "anonymous", id: null };
}

export function createRequestContext(app: App) {
  const storage = new AsyncLocalStorage<RequestContext>();
  app.addHook("onRequest", (request, _reply, done) => {
    const userAgent = request.headers["user-agent"];
    storage.run(
      {
        requestId: request.id,
        clientAddress: request.ip,
        userAgent: typeof userAgent === "string" ? userAgent.slice(0, 300) : null,
        // Read lazily: guards identify the caller after this hook ran.
        actor: () => actorOf(request),
        pending: noPendingEvents(),
        outer: null,
      },
      done,
    );
  });
  return {
    current: (): RequestContext => storage.getStore() ?? systemContext(),
    /**
     * Runs `work` with a pending list of its own (a unit of work): what it
     * records stays apart from the request's until its transaction commits,
     * and is dropped with it on a rollback.
     */
    scoped<T>(work: () => Promise<T>): Promise<T> {
      const around = storage.getStore() ?? systemContext();
      return storage.run({ ...around, pending: noPendingEvents(), outer: around.pending }, work);
    },
  };
}

export type RequestContextReader = ReturnType<typeof createRequestContext>;
