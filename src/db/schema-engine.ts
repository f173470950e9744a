// Prisma's schema engine, run from its official Wasm build (@prisma/schema-engine-wasm)
// instead of the native binary the Prisma CLI downloads: this service must create,
// check and apply migrations on machines that reach only the npm registry
// (design/PRISMA-OFFLINE.md). The package targets bundlers, so on Node we
// instantiate its .wasm ourselves and hand the exports to its wasm-bindgen glue.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import {
  bindMigrationAwareSqlAdapterFactory,
  type SqlMigrationAwareDriverAdapterFactory,
} from "@prisma/driver-adapter-utils";
import type { SchemaEngine } from "@prisma/schema-engine-wasm";

type Glue = typeof import("@prisma/schema-engine-wasm/schema_engine_bg") & {
  __wbg_set_wasm(exports: WebAssembly.Exports): void;
};

let gluePromise: Promise<Glue> | undefined;

async function instantiateGlue(): Promise<Glue> {
  const glueUrl = import.meta.resolve("@prisma/schema-engine-wasm/schema_engine_bg");
  const glue = (await import(glueUrl)) as Glue;
  const wasmPath = fileURLToPath(new URL("./schema_engine_bg.wasm", glueUrl));
  const { instance } = await WebAssembly.instantiate(await readFile(wasmPath), {
    "./schema_engine_bg.js": withUnrefTimers(glue),
  });
  glue.__wbg_set_wasm(instance.exports);
  (instance.exports.__wbindgen_start as () => void)();
  return glue;
}

/**
 * The engine arms 10 s timers that it never clears; unref'd, they no longer keep
 * a finished CLI or test process alive for those 10 s.
 */
function withUnrefTimers(glue: Glue): WebAssembly.ModuleImports {
  const imports: WebAssembly.ModuleImports = { ...(glue as unknown as WebAssembly.ModuleImports) };
  for (const name of Object.keys(imports).filter((n) => n.startsWith("__wbg_setTimeout_"))) {
    imports[name] = (callback: () => void, ms: number) => setTimeout(callback, ms >>> 0).unref();
  }
  return imports;
}

/** The engine's log lines are JSON; only errors are worth surfacing. */
function engineLog(line: string): void {
  if (line.includes('"level":"ERROR"')) process.stderr.write(`schema-engine: ${line}\n`);
}

export async function openSchemaEngine(
  schema: { path: string; content: string },
  adapterFactory: SqlMigrationAwareDriverAdapterFactory,
): Promise<SchemaEngine> {
  gluePromise ??= instantiateGlue();
  const glue = await gluePromise;
  return glue.SchemaEngine.new(
    { datamodels: [[schema.path, schema.content]] },
    engineLog,
    bindMigrationAwareSqlAdapterFactory(adapterFactory),
  );
}
