// RFC 9457 problem details: the one shape of every error this service returns,
// and the responses each operation declares for them. An operation names the
// codes it can answer (problemResponsesFor, next to its route); the document then
// narrows `code` to exactly those for each status, under application/problem+json
// (RFC 9457 §3), so a generated client knows every code it must handle.
import { Type, type Static } from "typebox";
import { errorCatalogue, type ErrorCode } from "../errors.ts";

export const PROBLEM_MEDIA_TYPE = "application/problem+json";

export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: "URI naming the problem type; about:blank with a stable `code`" }),
    title: Type.String({ description: "Short human-readable summary, stable per code" }),
    status: Type.Integer({ description: "The HTTP status code" }),
    code: Type.String({ description: "Stable machine-readable error code (UPPER_SNAKE); each response lists the codes its operation can answer" }),
    detail: Type.Optional(Type.String({ description: "Explanation specific to this occurrence" })),
    instance: Type.Optional(Type.String({ description: "The request id, also in the x-request-id header and the logs" })),
    errors: Type.Optional(
      Type.Array(
        Type.Object(
          {
            path: Type.String({ description: "JSON pointer of the offending input" }),
            message: Type.String({ description: "What is wrong with it" }),
          },
          { additionalProperties: false, description: "One validation failure" },
        ),
        { description: "Validation failures, for VALIDATION_FAILED" },
      ),
    ),
    retryAfterSeconds: Type.Optional(Type.Integer({ description: "Seconds to wait, as in the Retry-After header" })),
  },
  { $id: "Problem", description: "An RFC 9457 problem details object", additionalProperties: false },
);

export type Problem = Static<typeof ProblemSchema>;

/** A declared error response: its status's codes, narrowed on top of the Problem shape. */
export interface ProblemResponse {
  description: string;
  content: { [PROBLEM_MEDIA_TYPE]: { schema: { allOf: [{ $ref: "Problem" }, NarrowedCode]; examples?: unknown[] } } };
}
interface NarrowedCode {
  type: "object";
  required: ["code"];
  properties: { code: { type: "string"; enum: ErrorCode[]; description: string } };
}

const problemDescriptions: Record<number, string> = {
  400: "Invalid input",
  401: "Not authenticated",
  403: "Not allowed",
  404: "Not found",
  409: "Conflict with the current state",
  413: "Body too large",
  415: "Not JSON",
  429: "Too many attempts; see Retry-After",
  500: "Internal error (details only in the log)",
  503: "Temporarily unavailable; see Retry-After",
};

/**
 * The response map entries for the codes an operation can answer, one per
 * status. The type is the Problem shape, for the type provider: handlers never
 * return these (they throw AppError), and the problem handler serialises them.
 */
export function problemResponsesFor(...codes: ErrorCode[]): Record<number, typeof ProblemSchema> {
  const byStatus = new Map<number, Set<ErrorCode>>();
  for (const code of codes) {
    const { status } = errorCatalogue[code];
    byStatus.set(status, (byStatus.get(status) ?? new Set()).add(code));
  }
  const out: Record<number, ProblemResponse> = {};
  for (const [status, set] of [...byStatus].sort(([a], [b]) => a - b)) out[status] = problemResponse(status, [...set]);
  return out as unknown as Record<number, typeof ProblemSchema>;
}

function problemResponse(status: number, codes: ErrorCode[]): ProblemResponse {
  const sorted = [...codes].sort();
  const first = sorted[0]!;
  return {
    description: `${problemDescriptions[status] ?? "Problem"}: ${sorted.join(", ")}`,
    content: {
      [PROBLEM_MEDIA_TYPE]: {
        schema: {
          allOf: [
            { $ref: "Problem" },
            {
              type: "object",
              required: ["code"],
              properties: { code: { type: "string", enum: sorted, description: "The codes this operation answers with this status" } },
            },
          ],
          examples: [{ type: "about:blank", title: errorCatalogue[first].title, status, code: first, instance: "5b0e6a0c-8d1e-4a57-9c1f-3f1b2a7d9e10" }],
        },
      },
    },
  };
}

/** The codes a declared response map names, status by status. */
export function declaredProblemCodes(response: Record<string, unknown> | undefined): ErrorCode[] {
  const codes: ErrorCode[] = [];
  for (const entry of Object.values(response ?? {})) {
    const media = (entry as Partial<ProblemResponse>).content?.[PROBLEM_MEDIA_TYPE];
    if (media) codes.push(...media.schema.allOf[1].properties.code.enum);
  }
  return codes;
}

const BODY_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * The codes every route can answer by the service's conventions, whatever its
 * handler does: a credential in the query (CREDENTIAL_IN_URL, refused in onRequest),
 * a cookie-mode request from an origin that is not allowed or with a wrong
 * x-session-transport value (ORIGIN_NOT_ALLOWED, VALIDATION_FAILED, also onRequest),
 * an unhandled error (INTERNAL), input that fails its schema, and, where a body
 * may come, one that is too large, not JSON or malformed (the content-type parser);
 * where the path has a parameter, one over the router's length limit (URI_TOO_LONG,
 * plugins/problem-handler.ts frameworkErrorHandler).
 */
export function conventionalProblemCodes(method: string, url = ""): ErrorCode[] {
  const codes: ErrorCode[] = ["CREDENTIAL_IN_URL", "ORIGIN_NOT_ALLOWED", "VALIDATION_FAILED", "INTERNAL"];
  if (BODY_METHODS.has(method.toUpperCase())) codes.push("BODY_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE");
  if (url.includes(":")) codes.push("URI_TOO_LONG");
  return codes;
}

/** A route's response map with the conventional codes merged into its own: what the document declares. */
export function withConventionalProblems(method: string, url: string, schema: { response?: Record<string, unknown> }) {
  const response = schema.response ?? {};
  const own = declaredProblemCodes(response);
  const merged = problemResponsesFor(...new Set([...own, ...conventionalProblemCodes(method, url)])) as unknown as Record<number, ProblemResponse>;
  const out: Record<string, unknown> = {};
  for (const [status, entry] of Object.entries(response)) if (!(entry as Partial<ProblemResponse>).content?.[PROBLEM_MEDIA_TYPE]) out[status] = entry;
  for (const [status, entry] of Object.entries(merged)) out[status] = entry;
  return out;
}
