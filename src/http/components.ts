// Named component schemas. A shape that more than one operation answers with is
// defined once with `component(id, schema)`, registered with Fastify under its
// $id (app.addSchema, see registerComponents) and used through `ref(schema)`, so
// the OpenAPI document holds it once under #/components/schemas/<id> and every
// operation points there (OpenAPI 3.1 §4.8.7, Reference Object) instead of a copy.
// `ref` keeps the TypeBox static type, so handlers stay typed against the shape.
import { Type, type Static, type TSchema } from "typebox";

const registry = new Map<string, TSchema>();

/** Names a schema: it becomes #/components/schemas/<id> in the document. */
export function component<T extends TSchema>(id: string, schema: T): T & { $id: string } {
  if (registry.has(id)) throw new Error(`component schema ${id} is defined twice`);
  const named = { ...schema, $id: id } as T & { $id: string };
  registry.set(id, named);
  return named;
}

/** A reference to a named schema, typed as the schema itself. */
export function ref<T extends TSchema & { $id: string }>(schema: T, options: { description?: string } = {}) {
  return Type.Unsafe<Static<T>>(Type.Ref(schema.$id, options));
}

/** Every named schema, in the order the modules defined them (the document's order). */
export function componentSchemas(): TSchema[] {
  return [...registry.values()];
}

/** A named response variant list: `oneOf` the referenced variants, told apart by `status` (OpenAPI 3.1 §4.8.25, Discriminator Object). */
export function outcomes<T extends Array<TSchema & { $id: string }>>(variants: [...T], options: { description: string }) {
  const mapping: Record<string, string> = {};
  for (const variant of variants) mapping[statusOf(variant)] = `#/components/schemas/${variant.$id}`;
  return Type.Unsafe<Static<T[number]>>({
    oneOf: variants.map((variant) => ({ $ref: variant.$id })),
    discriminator: { propertyName: "status", mapping },
    description: options.description,
  });
}

function statusOf(variant: TSchema): string {
  const status = (variant as { properties?: { status?: { const?: unknown } } }).properties?.status?.const;
  if (typeof status !== "string") throw new Error(`outcome ${(variant as { $id?: string }).$id} has no constant status`);
  return status;
}

/** Adds every named schema to the app, so that routes may reference them ($ref by id). */
export function registerComponents(app: { addSchema(schema: unknown): unknown }) {
  for (const schema of componentSchemas()) app.addSchema(schema);
}

/** Named examples of an answer (OpenAPI 3.1 §4.8.14, the Media Type Object's `examples`): every outcome shown in the docs UI. */
export function withExamples<T extends TSchema>(schema: T, examples: Record<string, { summary: string; value: unknown }>): T {
  return { ...schema, "x-examples": examples } as T;
}

/** One example of an answer. */
export function withExample<T extends TSchema>(schema: T, summary: string, value: unknown): T {
  return withExamples(schema, { default: { summary, value } });
}
