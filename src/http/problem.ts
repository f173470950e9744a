// RFC 9457 problem details: the one shape of every error this service returns.
import { Type, type Static } from "typebox";

export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: "URI naming the problem type; about:blank with a stable `code`" }),
    title: Type.String({ description: "Short human-readable summary, stable per code" }),
    status: Type.Integer({ description: "The HTTP status code" }),
    code: Type.String({ description: "Stable machine-readable error code (UPPER_SNAKE)" }),
    detail: Type.Optional(Type.String({ description: "Explanation specific to this occurrence" })),
    instance: Type.Optional(Type.String({ description: "The request id, also in the x-request-id header and the logs" })),
    errors: Type.Optional(
      Type.Array(
        Type.Object({
          path: Type.String({ description: "JSON pointer of the offending input" }),
          message: Type.String({ description: "What is wrong with it" }),
        }),
        { description: "Validation failures, for VALIDATION_FAILED" },
      ),
    ),
    retryAfterSeconds: Type.Optional(Type.Integer({ description: "Seconds to wait, as in the Retry-After header" })),
  },
  { $id: "Problem", description: "An RFC 9457 problem details object", additionalProperties: false },
);

export type Problem = Static<typeof ProblemSchema>;

/** The response map entry for each listed error status, all sharing the Problem shape. */
export function problemResponses(...statuses: number[]) {
  const out: Record<number, unknown> = {};
  for (const status of statuses) out[status] = Type.Ref("Problem", { description: problemDescriptions[status] ?? "Problem" });
  return out as Record<number, typeof ProblemSchema>;
}

const problemDescriptions: Record<number, string> = {
  400: "Invalid input (problem+json)",
  401: "Not authenticated (problem+json)",
  403: "Not allowed (problem+json)",
  404: "Not found (problem+json)",
  409: "Conflict with the current state (problem+json)",
  413: "Body too large (problem+json)",
  415: "Not JSON (problem+json)",
  429: "Too many attempts; see Retry-After (problem+json)",
  503: "Temporarily unavailable; see Retry-After (problem+json)",
};
