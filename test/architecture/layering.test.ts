// The seams, checked on the source text (test/helpers/source-graph.ts): dependencies
// between folders point one way, each table has one writer, and only repositories
// talk to Prisma. A change that adds a cycle or a second writer fails here.
import { readFileSync } from "node:fs";
import path from "node:path";
import t from "tap";
import { folderCycles, folderGraph, SRC, sourceFiles, tableWriters } from "../helpers/source-graph.ts";

const isRepository = (rel: string) => /(^|\/)([\w-]+-)?repository\.ts$/.test(rel) || rel === "rate-limit/counter-store.ts";

t.test("no import cycle between the folders of src/ (type-only imports included)", async (t) => {
  t.same(folderCycles(folderGraph()), [], "every folder's imports point one way");
});

t.test("the HTTP layer depends on no feature: guards reach sessions and clients through a port", async (t) => {
  const graph = folderGraph();
  t.same([...(graph.get("http") ?? [])].sort(), ["errors.ts"], "http/ imports only the error catalogue");
});

t.test("each table is written from exactly one file, and that file is a repository", async (t) => {
  for (const [model, files] of tableWriters()) {
    const list = [...files];
    t.ok(list.length <= 1, `${model} is written from ${list.length} files: ${list.join(", ") || "none"}`);
    for (const file of list) t.ok(isRepository(file), `${model} is written from ${file}, a repository`);
  }
});

t.test("only repositories, the database module and the composition roots use the Prisma client", async (t) => {
  const allowed = (rel: string) => isRepository(rel) || rel.startsWith("db/") || rel === "app.ts" || rel === "cli.ts";
  const offenders = sourceFiles()
    .map((file) => path.relative(SRC, file))
    .filter((rel) => !allowed(rel))
    .filter((rel) => /\bprisma\s*\.\s*(\$?\w+)/.test(readFileSync(path.join(SRC, rel), "utf8")));
  t.same(offenders, [], "services and routes reach the database through their feature's repository");
});
