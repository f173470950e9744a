// Every problem answer a test receives from a route is written down here, one
// JSON line per answer, under .tap/ (git-ignored). tap's `before` script clears
// the run's folder and its `after` script (test/contract/observed-problems.ts)
// checks the lines against the OpenAPI document. The folder is the tap run's
// (named after the tap process, the parent of every test process and of both
// scripts), so two runs side by side never mix or clear each other's lines.
// One file per test process: no locking.
import { appendFileSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const OBSERVATIONS_ROOT = fileURLToPath(new URL("../../.tap/problem-observations/", import.meta.url));
const OBSERVATIONS_DIR = path.join(OBSERVATIONS_ROOT, String(process.ppid));

export interface ProblemObservation {
  operation: string;
  status: number;
  code: string;
  /** The test file that saw it. */
  file?: string;
}

let file: string | null = null;

export function recordProblem(observation: ProblemObservation) {
  file ??= path.join(OBSERVATIONS_DIR, `${process.pid}-${Date.now()}.jsonl`);
  mkdirSync(OBSERVATIONS_DIR, { recursive: true });
  const testFile = process.argv.find((arg) => arg.endsWith(".test.ts"));
  appendFileSync(file, `${JSON.stringify({ ...observation, file: testFile ? path.relative(process.cwd(), testFile) : undefined })}\n`);
}

const jsonlFiles = (dir: string) => {
  try {
    return readdirSync(dir).filter((name) => name.endsWith(".jsonl")).map((name) => path.join(dir, name));
  } catch {
    return [];
  }
};

/** This tap run's observations; with `allRuns`, every run's that is still on disk. */
export function readObservations(options: { allRuns?: boolean } = {}): ProblemObservation[] {
  const dirs = options.allRuns ? runFolders() : [OBSERVATIONS_DIR];
  return dirs.flatMap(jsonlFiles).flatMap((file) =>
    readFileSync(file, "utf8").split("\n").filter(Boolean).map((line) => JSON.parse(line) as ProblemObservation),
  );
}

function runFolders(): string[] {
  try {
    return readdirSync(OBSERVATIONS_ROOT).map((name) => path.join(OBSERVATIONS_ROOT, name));
  } catch {
    return [];
  }
}

/** Clears this run's folder, and those of runs whose tap process is gone. */
export function clearObservations() {
  rmSync(OBSERVATIONS_DIR, { recursive: true, force: true });
  for (const run of runFolders()) if (!alive(Number(path.basename(run)))) rmSync(run, { recursive: true, force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
