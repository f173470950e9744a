// The tests' view of every problem a route answers with. Only the tests pass an
// observer (test/helpers/app.ts); test/contract/observed-problems.ts then checks
// each (operation, status, code) against what the OpenAPI document declares for
// that operation, so the document cannot leave out a code the service sends.
import type { FastifyInstance } from "fastify";
import { operationKey } from "../http/operation-ids.ts";
import { PROBLEM_MEDIA_TYPE } from "../http/problem.ts";

/** One problem answer of a route: its operation ("METHOD /path/{param}"), status and code. */
export type ProblemObserver = (observation: { operation: string; status: number; code: string }) => void;

/** Reports every problem answer of a route; not the not-found handler's (no route, so no operation). */
export function observeProblems(app: FastifyInstance, observe: ProblemObserver) {
  app.addHook("onSend", async (request, reply, payload) => {
    const url = request.routeOptions.url;
    const type = String(reply.getHeader("content-type") ?? "");
    if (!url || !type.startsWith(PROBLEM_MEDIA_TYPE) || typeof payload !== "string") return payload;
    const { code } = JSON.parse(payload) as { code?: unknown };
    observe({ operation: operationKey(request.method, url), status: reply.statusCode, code: String(code) });
    return payload;
  });
}
