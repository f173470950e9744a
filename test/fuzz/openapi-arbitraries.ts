// Request generators from the OpenAPI document: for every operation, its path parameters,
// query parameters, headers (the security scheme's credentials) and JSON body, each drawn
// from three kinds of value: valid (what the schema accepts), boundary (at and just past
// minLength/maxLength/minimum/maximum, empty, absent) and hostile (wrong types, control
// characters, injection strings, prototype keys, very long values). `$ref`s are resolved
// and oneOf/anyOf/allOf handled generically, so the generator follows whatever shape the
// document takes.
import fc, { type Arbitrary } from "fast-check";

export type Schema = Record<string, unknown> & {
  $ref?: string; type?: string | string[]; properties?: Record<string, Schema>; required?: string[];
  items?: Schema; oneOf?: Schema[]; anyOf?: Schema[]; allOf?: Schema[]; enum?: unknown[]; const?: unknown;
  minLength?: number; maxLength?: number; minimum?: number; maximum?: number; minItems?: number; maxItems?: number;
  pattern?: string; format?: string; examples?: unknown[]; additionalProperties?: boolean | Schema;
};

export interface Parameter { name: string; in: "path" | "query" | "header" | "cookie"; required?: boolean; schema?: Schema }

export interface Operation {
  method: string;
  path: string;
  parameters: Parameter[];
  body?: Schema;
  /** Security schemes any one of which the operation accepts; [] means none needed. */
  security: string[];
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, Record<string, unknown>>>;
  components?: { securitySchemes?: Record<string, { type: string; in?: string; name?: string; scheme?: string }> } & Record<string, unknown>;
  security?: Record<string, unknown>[];
}

const METHODS = ["get", "put", "post", "delete", "patch"];

/** Follows `#/a/b/c` references (JSON Pointer, RFC 6901) until a schema without $ref. */
export function resolver(document: OpenApiDocument) {
  const resolve = <T>(value: T, depth = 0): T => {
    const ref = (value as { $ref?: unknown } | null)?.$ref;
    if (typeof ref !== "string") return value;
    if (depth > 32 || !ref.startsWith("#/")) throw new Error(`cannot resolve ${ref}`);
    let target: unknown = document;
    for (const part of ref.slice(2).split("/")) target = (target as Record<string, unknown>)[part.replace(/~1/g, "/").replace(/~0/g, "~")];
    if (target === undefined) throw new Error(`dangling ${ref}`);
    return resolve(target as T, depth + 1);
  };
  return resolve;
}

/** Every operation of the document, with path-level and operation-level parameters merged. */
export function operationsOf(document: OpenApiDocument): Operation[] {
  const resolve = resolver(document);
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    const shared = ((item.parameters as unknown as unknown[] | undefined) ?? []).map((p) => resolve(p) as Parameter);
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const own = ((op.parameters as unknown[]) ?? []).map((p) => resolve(p) as Parameter);
      const parameters = [...shared.filter((s) => !own.some((o) => o.name === s.name && o.in === s.in)), ...own];
      const requestBody = op.requestBody ? resolve(op.requestBody as { content?: Record<string, { schema?: Schema }> }) : undefined;
      const body = requestBody?.content?.["application/json"]?.schema;
      const security = ((op.security ?? document.security ?? []) as Record<string, unknown>[]).flatMap((s) => Object.keys(s));
      out.push({ method: method.toUpperCase(), path, parameters, body, security });
    }
  }
  return out;
}

const HOSTILE_STRINGS = [
  "", " ", "\u0000", "\u0000abc", "\r\nX-Injected: 1", "\n{\"level\":60}", "'; DROP TABLE users; --", "\" OR 1=1 --",
  "../../../../etc/passwd", "%00", "%2e%2e%2f", "<script>alert(1)</script>", "${jndi:ldap://x}", "{{7*7}}",
  "__proto__", "constructor", "prototype", "\uFEFF", "\uD800", "\uDFFF", "😀".repeat(50), "\u202Eevil", "null", "undefined",
  "NaN", "-1", "0", "1e309", "true", "[]", "{}", "A".repeat(5_000), "é".repeat(2_000), "a@b", "@", "ada@example.com",
  "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff", "not-a-uuid", "9999-99-99T99:99:99Z",
];
const HOSTILE_VALUES: unknown[] = [null, true, false, 0, -1, 1.5, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 1e300, [], [null], {}, { __proto__: { admin: true } }, { constructor: { prototype: {} } }];

export const hostileString = (): Arbitrary<string> => fc.oneof(fc.constantFrom(...HOSTILE_STRINGS), fc.string({ unit: "binary", maxLength: 64 }), fc.string({ maxLength: 300 }));
export const hostileValue = (): Arbitrary<unknown> => fc.oneof(fc.constantFrom(...HOSTILE_VALUES), hostileString(), fc.jsonValue({ maxDepth: 3 }));

const typesOf = (schema: Schema): string[] => (Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : []);

/** A string the schema accepts, as far as its format and pattern allow a generator to know. */
function validString(schema: Schema): Arbitrary<string> {
  const min = schema.minLength ?? 0;
  const max = Math.min(schema.maxLength ?? 64, Math.max(min, 64));
  if (schema.format === "uuid") return fc.uuid();
  if (schema.format === "date-time") return fc.date({ min: new Date("2000-01-01"), max: new Date("2100-01-01"), noInvalidDate: true }).map((d) => d.toISOString());
  if (schema.format === "uri") return fc.webUrl();
  if (schema.format === "email" || (schema.pattern ?? "").includes("@")) return fc.emailAddress().filter((e) => e.length >= min && e.length <= (schema.maxLength ?? 254));
  const examples = (schema.examples ?? []).filter((e): e is string => typeof e === "string");
  if (schema.pattern) {
    let pattern: RegExp | null = null;
    try { pattern = new RegExp(schema.pattern, "u"); } catch { /* not a JavaScript pattern */ }
    if (pattern) {
      const matcher = fc.stringMatching(pattern, { size: "small" }).filter((s) => s.length >= min && s.length <= (schema.maxLength ?? Infinity));
      return examples.length > 0 ? fc.oneof(fc.constantFrom(...examples), matcher) : matcher;
    }
  }
  const random = fc.string({ minLength: min, maxLength: max });
  return examples.length > 0 ? fc.oneof(fc.constantFrom(...examples), random) : random;
}

/** Strings at and just past the length limits. */
function boundaryString(schema: Schema): Arbitrary<string> {
  const lengths = [0, 1];
  if (schema.minLength !== undefined) lengths.push(schema.minLength, Math.max(0, schema.minLength - 1));
  if (schema.maxLength !== undefined) lengths.push(schema.maxLength, schema.maxLength + 1);
  return fc.tuple(fc.constantFrom(...lengths), fc.constantFrom("a", "0", "é", "😀", " ", "-")).map(([n, c]) => c.repeat(n));
}

function validNumber(schema: Schema, integer: boolean): Arbitrary<number> {
  const min = schema.minimum ?? (integer ? -1000 : -1e6);
  const max = schema.maximum ?? (integer ? 1_000_000 : 1e6);
  return integer ? fc.integer({ min: Math.ceil(min), max: Math.floor(max) }) : fc.double({ min, max, noNaN: true });
}

function boundaryNumber(schema: Schema): Arbitrary<number> {
  const values = [0, -1, 1, 2 ** 31, -(2 ** 31), 2 ** 53, 0.5];
  if (schema.minimum !== undefined) values.push(schema.minimum, schema.minimum - 1);
  if (schema.maximum !== undefined) values.push(schema.maximum, schema.maximum + 1);
  return fc.constantFrom(...values);
}

export interface ValueOptions {
  /** Values the generator may reuse for fields of this name (ids of real rows, a real token). */
  known: (name: string) => unknown[];
  depth: number;
  /** Only values the schema accepts (a request that should get through), not boundary or hostile ones. */
  validOnly?: boolean;
}

/** Valid, boundary or hostile values for one schema: mostly valid, so requests reach the handlers. */
export function valueOf(schema: Schema | undefined, resolve: <T>(v: T) => T, options: ValueOptions, name = ""): Arbitrary<unknown> {
  if (options.validOnly) return validValueOf(schema, resolve, options, name);
  return fc.oneof(
    { weight: 6, arbitrary: validValueOf(schema, resolve, options, name) },
    { weight: 2, arbitrary: boundaryValueOf(schema, resolve) },
    { weight: 1, arbitrary: hostileValue() },
  );
}

export function validValueOf(schemaIn: Schema | undefined, resolve: <T>(v: T) => T, options: ValueOptions, name = ""): Arbitrary<unknown> {
  const schema = resolve(schemaIn ?? {});
  const known = options.known(name);
  const withKnown = (arb: Arbitrary<unknown>) => (known.length > 0 ? fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...known) }, { weight: 1, arbitrary: arb }) : arb);
  if (options.depth > 5) return fc.constant(null);
  const deeper = { ...options, depth: options.depth + 1 };
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const branches = schema.oneOf ?? schema.anyOf;
  if (branches && branches.length > 0) return fc.oneof(...branches.map((b) => validValueOf(b, resolve, deeper, name)));
  if (schema.allOf && schema.allOf.length > 0) {
    const merged: Schema = { type: "object", properties: {}, required: [] };
    for (const part of schema.allOf.map((p) => resolve(p))) {
      Object.assign(merged.properties!, part.properties ?? {});
      merged.required!.push(...(part.required ?? []));
    }
    return validValueOf(merged, resolve, deeper, name);
  }
  const types = typesOf(schema);
  const choices = types.length > 0 ? types : schema.properties ? ["object"] : ["string"];
  return fc.oneof(...choices.map((type) => {
    switch (type) {
      case "string": return withKnown(validString(schema));
      case "integer": return validNumber(schema, true);
      case "number": return validNumber(schema, false);
      case "boolean": return fc.boolean();
      case "null": return fc.constant(null);
      case "array":
        return fc.array(validValueOf(schema.items, resolve, deeper), { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 4, 4) });
      default: return objectOf(schema, resolve, deeper);
    }
  }));
}

function boundaryValueOf(schemaIn: Schema | undefined, resolve: <T>(v: T) => T): Arbitrary<unknown> {
  const schema = resolve(schemaIn ?? {});
  const branches = schema.oneOf ?? schema.anyOf;
  if (branches && branches.length > 0) return fc.oneof(...branches.map((b) => boundaryValueOf(b, resolve)));
  const types = typesOf(schema);
  if (types.includes("integer") || types.includes("number")) return boundaryNumber(schema);
  if (types.includes("array")) return fc.constantFrom([], Array.from({ length: (schema.maxItems ?? 100) + 1 }, () => "x"));
  if (types.includes("object") || schema.properties) return fc.constantFrom({}, [], "{}");
  return boundaryString(schema);
}

/** An object of the schema: required fields mostly present, optional ones sometimes, now and then a field it does not know. */
function objectOf(schema: Schema, resolve: <T>(v: T) => T, options: ValueOptions): Arbitrary<Record<string, unknown>> {
  const properties = schema.properties ?? {};
  const required = new Set(schema.required ?? []);
  const fields = Object.entries(properties).map(([key, child]) =>
    fc.tuple(fc.constant(key), valueOf(child, resolve, options, key), fc.nat({ max: 19 })));
  const unknownField = options.validOnly ? fc.constant(null) : fc.option(fc.tuple(fc.constantFrom("__proto__", "constructor", "extra", "isAdmin", "role"), hostileValue()), { freq: 10 });
  return fc.tuple(fc.tuple(...fields), unknownField)
    .map(([entries, extra]) => {
      const out: Record<string, unknown> = {};
      for (const [key, value, roll] of entries) {
        const keep = required.has(key) ? options.validOnly || roll !== 0 : roll < 10;
        if (keep) out[key] = value;
      }
      if (extra) Object.defineProperty(out, extra[0], { value: extra[1], enumerable: true, writable: true, configurable: true });
      return out;
    });
}
