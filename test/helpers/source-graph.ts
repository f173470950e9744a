// Reads src/ as text to check the architecture: which top-level folder imports
// which, and which files write each table. Plain text on purpose: the rules are
// about what the code says, so anyone can re-check them with grep.
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

export const SRC = path.resolve(import.meta.dirname, "../../src");

export function sourceFiles(dir = SRC): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (name === "generated") return [];
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return name.endsWith(".ts") ? [full] : [];
  });
}

/**
 * The module a file belongs to: its folder ("sessions" for src/sessions/service.ts),
 * or, at the top of src/, the file itself ("app.ts", "errors.ts"): the
 * composition root and the leaf modules there are different layers.
 */
export function folderOf(file: string): string {
  const rel = path.relative(SRC, file).split(path.sep);
  return rel[0]!;
}

const IMPORT = /^\s*(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"/gm;

/** Folder -> folders it imports from (type-only imports count: they are dependencies too). */
export function folderGraph(files = sourceFiles()): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of files) {
    const from = folderOf(file);
    const edges = graph.get(from) ?? new Set<string>();
    graph.set(from, edges);
    for (const match of readFileSync(file, "utf8").matchAll(IMPORT)) {
      const target = path.resolve(path.dirname(file), match[1]!);
      if (!target.startsWith(SRC) || target.includes(`${path.sep}generated${path.sep}`)) continue;
      const to = folderOf(target);
      if (to !== from) edges.add(to);
    }
  }
  return graph;
}

/** Groups of folders that import each other, directly or around a loop (Tarjan's strongly connected components). */
export function folderCycles(graph: Map<string, Set<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const groups: string[][] = [];
  function visit(node: string) {
    index.set(node, next);
    low.set(node, next++);
    stack.push(node);
    for (const to of graph.get(node) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (stack.includes(to)) {
        low.set(node, Math.min(low.get(node)!, index.get(to)!));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const group: string[] = [];
    let member: string;
    do { member = stack.pop()!; group.push(member); } while (member !== node);
    if (group.length > 1) groups.push(group.sort());
  }
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return groups;
}

const SCHEMA = path.resolve(SRC, "../prisma/schema.prisma");

/** Each Prisma model with its client accessor (`trustedDevice`) and table name (`trusted_devices`). */
export function prismaModels(): { model: string; accessor: string; table: string }[] {
  const schema = readFileSync(SCHEMA, "utf8");
  return [...schema.matchAll(/^model (\w+) \{([\s\S]*?)^\}/gm)].map((m) => {
    const model = m[1]!;
    const table = /@@map\("(\w+)"\)/.exec(m[2]!)?.[1] ?? model;
    return { model, accessor: model[0]!.toLowerCase() + model.slice(1), table };
  });
}

const CLIENT_WRITE = /\.(\w+)\s*\.\s*(?:create|createMany|createManyAndReturn|update|updateMany|upsert|delete|deleteMany)\s*\(/g;
const SQL_WRITE = /\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?/g;

/** Model -> the source files that write it, through the client or in raw SQL. */
export function tableWriters(files = sourceFiles()): Map<string, Set<string>> {
  const models = prismaModels();
  const byAccessor = new Map(models.map((m) => [m.accessor, m.model]));
  const byTable = new Map(models.map((m) => [m.table, m.model]));
  const writers = new Map(models.map((m) => [m.model, new Set<string>()]));
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const rel = path.relative(SRC, file);
    for (const m of text.matchAll(CLIENT_WRITE)) {
      const model = byAccessor.get(m[1]!);
      if (model) writers.get(model)!.add(rel);
    }
    for (const m of text.matchAll(SQL_WRITE)) {
      const model = byTable.get(m[1]!);
      if (model) writers.get(model)!.add(rel);
    }
  }
  return writers;
}
