// Every problem answer a test receives from a route is written down here, one
// JSON line per answer, under .tap/ (git-ignored). tap's `before` script empties
// the folder and its `after` script (test/contract/observed-problems.ts) checks
// the lines against the OpenAPI document. One file per test process: no locking.
import { appendFileSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const OBSERVATIONS_DIR = fileURLToPath(new URL("../../.tap/problem-observations/", import.meta.url));

export interface ProblemObservation {
  operation: string;
  status: number;
  code: string;
  /** The test file that saw it. */
  file?: string;
}

let file: string | null = null;

export function recordProblem(observation: ProblemObservation) {
  if (!file) {
    mkdirSync(OBSERVATIONS_DIR, { recursive: true });
    file = path.join(OBSERVATIONS_DIR, `${process.pid}-${Date.now()}.jsonl`);
  }
  const testFile = process.argv.find((arg) => arg.endsWith(".test.ts"));
  appendFileSync(file, `${JSON.stringify({ ...observation, file: testFile ? path.relative(process.cwd(), testFile) : undefined })}\n`);
}

export function readObservations(): ProblemObservation[] {
  let names: string[];
  try {
    names = readdirSync(OBSERVATIONS_DIR).filter((name) => name.endsWith(".jsonl"));
  } catch {
    return [];
  }
  return names.flatMap((name) =>
    readFileSync(path.join(OBSERVATIONS_DIR, name), "utf8").split("\n").filter(Boolean).map((line) => JSON.parse(line) as ProblemObservation),
  );
}

export function clearObservations() {
  rmSync(OBSERVATIONS_DIR, { recursive: true, force: true });
}
