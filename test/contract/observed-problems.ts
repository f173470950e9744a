// tap's `after` script (package.json), run once every test file has finished:
// every problem answer any test received from a route (test/helpers/app.ts
// records them) must have a status and code that the OpenAPI document declares
// for that operation. A code the service sends but the document leaves out is a
// contract a generated client cannot handle. Also runnable alone, over every
// run's observations left on disk: `npx tsx test/contract/observed-problems.ts --all`.
import t from "tap";
import { readFileSync } from "node:fs";
import { OPENAPI_PATH } from "../../scripts/openapi-document.ts";
import { readObservations, type ProblemObservation } from "../helpers/problem-observations.ts";
import { PROBLEM_MEDIA_TYPE } from "../../src/http/problem.ts";

type Json = Record<string, any>;

/** "METHOD /path" → status → the codes its problem response declares. */
export function declaredCodes(document: Json): Map<string, Map<number, Set<string>>> {
  const out = new Map<string, Map<number, Set<string>>>();
  for (const [path, item] of Object.entries(document.paths as Json)) {
    for (const [method, operation] of Object.entries(item as Json)) {
      const byStatus = new Map<number, Set<string>>();
      for (const [status, response] of Object.entries((operation as Json).responses ?? {})) {
        const schema = (response as Json).content?.[PROBLEM_MEDIA_TYPE]?.schema;
        const codes: string[] = schema?.allOf?.[1]?.properties?.code?.enum ?? [];
        byStatus.set(Number(status), new Set(codes));
      }
      out.set(`${method.toUpperCase()} ${path}`, byStatus);
    }
  }
  return out;
}

/** The observations the document does not declare, each once, with a test file that saw it. */
export function undeclared(document: Json, observations: ProblemObservation[]): string[] {
  const declared = declaredCodes(document);
  const gaps = new Map<string, string>();
  for (const o of observations) {
    // Fastify answers HEAD on every GET route with the GET route's handler.
    const operation = o.operation.replace(/^HEAD /, "GET ");
    if (declared.get(operation)?.get(o.status)?.has(o.code)) continue;
    const key = `${operation} → ${o.status} ${o.code}`;
    if (!gaps.has(key)) gaps.set(key, `${key} (seen in ${o.file ?? "?"})`);
  }
  return [...gaps.values()].sort();
}

const document = JSON.parse(readFileSync(OPENAPI_PATH, "utf8")) as Json;
const observations = readObservations({ allRuns: process.argv.includes("--all") });

t.test("every problem the tests received from a route is declared for that operation, with its status and code", async (t) => {
  const gaps = undeclared(document, observations);
  t.same(gaps, [], gaps.length === 0
    ? `${observations.length} problem answers observed, every one declared`
    : `declare these codes next to the route (problemResponsesFor) and run npm run openapi: ${gaps.join("; ")}`);
});
