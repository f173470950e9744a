// Who is calling and from where, available to the audit log without threading
// the request through every service. One AsyncLocalStorage per app instance.
import { AsyncLocalStorage } from "node:async_hooks";
import type { FastifyRequest } from "fastify";
import type { App } from "../http/app-type.ts";
import type { Caller } from "../http/guards.ts";

export interface Actor {
  type: "user" | "service" | "anonymous" | "system";
  id: string | null;
}

export interface RequestContext {
  requestId: string | null;
  clientAddress: string | null;
  userAgent: string | null;
  actor(): Actor;
  /** Audit rows of this request, written together before its response leaves (null outside a request). */
  pendingAudit: unknown[] | null;
}

const systemContext = (): RequestContext => ({
  requestId: null, clientAddress: null, userAgent: null, actor: () => ({ type: "system", id: null }), pendingAudit: null,
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
        pendingAudit: [],
      },
      done,
    );
  });
  return { current: (): RequestContext => storage.getStore() ?? systemContext() };
}

export type RequestContextReader = ReturnType<typeof createRequestContext>;
