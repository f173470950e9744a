// A short comparison of two OpenAPI documents for the changes that break a
// client generated from the older one (no maintained differ installs from npm
// here: oasdiff is Go, @pb33f/openapi-changes downloads a Go binary). It reports,
// for the released document against the generated one:
//   1. a path removed or renamed;
//   2. an operation (method) removed from a path, or its operationId changed;
//   3. a property removed from a response or request schema (at any depth,
//      through $ref, allOf/oneOf/anyOf, items and additionalProperties);
//   4. an enum or const value removed (a union of literals counts as an enum);
//   5. a schema's type changed;
//   6. a request narrowed: a new required property or parameter, an optional one
//      made required, a smaller maxLength/maxItems/maximum, a larger
//      minLength/minItems/minimum, a pattern added or changed, a parameter removed;
//   7. a 2xx response removed, or its media type removed.
// Additions (paths, operations, optional fields, response fields, error codes)
// are not breaking. Anything else is left to review.
type Json = Record<string, any>;
type Direction = "request" | "response";

const METHODS = ["get", "put", "post", "delete", "patch", "options", "head", "trace"];
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

export function breakingChanges(released: Json, generated: Json): string[] {
  const out: string[] = [];
  for (const [path, oldItem] of Object.entries(released.paths ?? {})) {
    const newItem = generated.paths?.[path];
    if (!isObject(newItem)) { out.push(`path ${path} removed or renamed`); continue; }
    for (const method of METHODS) {
      const oldOp = (oldItem as Json)[method];
      if (!isObject(oldOp)) continue;
      const at = `${method.toUpperCase()} ${path}`;
      const newOp = newItem[method];
      if (!isObject(newOp)) { out.push(`${at}: operation removed`); continue; }
      if (oldOp.operationId !== newOp.operationId) out.push(`${at}: operationId ${oldOp.operationId} renamed to ${newOp.operationId}`);
      compareParameters(released, generated, at, oldOp.parameters ?? [], newOp.parameters ?? [], out);
      compareContent(released, generated, `${at} request body`, oldOp.requestBody?.content, newOp.requestBody?.content, "request", out);
      for (const [status, oldResponse] of Object.entries(oldOp.responses ?? {})) {
        if (!status.startsWith("2")) continue;
        const newResponse = newOp.responses?.[status];
        if (!isObject(newResponse)) { out.push(`${at}: response ${status} removed`); continue; }
        compareContent(released, generated, `${at} response ${status}`, (oldResponse as Json).content, newResponse.content, "response", out);
      }
    }
  }
  return out;
}

function compareParameters(oldDoc: Json, newDoc: Json, at: string, oldParams: Json[], newParams: Json[], out: string[]) {
  const key = (p: Json) => `${p.in}:${p.name}`;
  const newByKey = new Map(newParams.map((p) => [key(p), p]));
  const oldKeys = new Set(oldParams.map(key));
  for (const p of oldParams) {
    const q = newByKey.get(key(p));
    if (!q) { out.push(`${at}: parameter ${key(p)} removed`); continue; }
    if (q.required && !p.required) out.push(`${at}: parameter ${key(p)} made required`);
    compareSchema(oldDoc, newDoc, `${at} parameter ${key(p)}`, p.schema, q.schema, "request", out, new Set());
  }
  for (const q of newParams) if (q.required && !oldKeys.has(key(q))) out.push(`${at}: new required parameter ${key(q)}`);
}

function compareContent(oldDoc: Json, newDoc: Json, at: string, oldContent: Json | undefined, newContent: Json | undefined, direction: Direction, out: string[]) {
  for (const [mediaType, media] of Object.entries(oldContent ?? {})) {
    const next = newContent?.[mediaType];
    if (!isObject(next)) { out.push(`${at}: media type ${mediaType} removed`); continue; }
    compareSchema(oldDoc, newDoc, at, (media as Json).schema, next.schema, direction, out, new Set());
  }
}

function resolve(doc: Json, schema: unknown): Json | undefined {
  let s = schema;
  for (let i = 0; isObject(s) && typeof s.$ref === "string" && i < 20; i++) {
    s = s.$ref.replace(/^#\//, "").split("/").reduce((node: any, part: string) => node?.[part], doc);
  }
  return isObject(s) ? s : undefined;
}

/** The enum and const values a schema admits, a union of literals included; null when it is not an enumeration. */
function values(doc: Json, schema: Json): Set<unknown> | null {
  if (Array.isArray(schema.enum)) return new Set(schema.enum);
  if ("const" in schema) return new Set([schema.const]);
  const members = schema.anyOf ?? schema.oneOf;
  if (!Array.isArray(members)) return null;
  const all = new Set<unknown>();
  for (const member of members) {
    const resolved = resolve(doc, member);
    const vs = resolved ? values(doc, resolved) : null;
    if (!vs) return null;
    for (const v of vs) all.add(v);
  }
  return all;
}

const NARROWER_WHEN_SMALLER = ["maxLength", "maxItems", "maximum", "maxProperties"];
const NARROWER_WHEN_LARGER = ["minLength", "minItems", "minimum", "minProperties"];

function compareSchema(oldDoc: Json, newDoc: Json, at: string, oldRaw: unknown, newRaw: unknown, direction: Direction, out: string[], seen: Set<string>) {
  const visit = `${at}|${JSON.stringify(oldRaw)}`;
  if (seen.has(visit)) return;
  seen.add(visit);
  const a = resolve(oldDoc, oldRaw);
  const b = resolve(newDoc, newRaw);
  if (!a) return;
  if (!b) { out.push(`${at}: schema removed`); return; }
  if (a.type !== undefined && JSON.stringify(a.type) !== JSON.stringify(b.type)) out.push(`${at}: type ${JSON.stringify(a.type)} changed to ${JSON.stringify(b.type)}`);
  const oldValues = values(oldDoc, a);
  if (oldValues) {
    const newValues = values(newDoc, b);
    for (const v of oldValues) if (!newValues?.has(v)) out.push(`${at}: enum value ${JSON.stringify(v)} removed`);
  }
  if (direction === "request") requestNarrowing(at, a, b, out);
  for (const [name, property] of Object.entries(a.properties ?? {})) {
    const next = b.properties?.[name];
    if (next === undefined) { out.push(`${at}: property ${name} removed`); continue; }
    compareSchema(oldDoc, newDoc, `${at}.${name}`, property, next, direction, out, seen);
  }
  for (const key of ["items", "additionalProperties"]) {
    if (isObject(a[key]) && isObject(b[key])) compareSchema(oldDoc, newDoc, `${at}${key === "items" ? "[]" : "{}"}`, a[key], b[key], direction, out, seen);
  }
  for (const key of ["allOf", "oneOf", "anyOf"]) {
    if (!Array.isArray(a[key]) || oldValues) continue;
    (a[key] as unknown[]).forEach((member, i) => {
      const counterpart = matchingMember(member, b[key] ?? [], i);
      if (counterpart === undefined) out.push(`${at}: ${key} member ${memberName(member, i)} removed`);
      else compareSchema(oldDoc, newDoc, `${at}.${key}[${memberName(member, i)}]`, member, counterpart, direction, out, seen);
    });
  }
}

const memberName = (member: unknown, i: number) => (isObject(member) && typeof member.$ref === "string" ? member.$ref.split("/").pop()! : String(i));

/** A union member's counterpart: the same named component, else the one at the same place. */
function matchingMember(member: unknown, candidates: unknown[], i: number): unknown {
  if (isObject(member) && typeof member.$ref === "string") return candidates.find((c) => isObject(c) && c.$ref === member.$ref);
  return candidates[i];
}

function requestNarrowing(at: string, a: Json, b: Json, out: string[]) {
  const oldRequired = new Set<string>(a.required ?? []);
  for (const name of b.required ?? []) if (!oldRequired.has(name)) out.push(`${at}: property ${name} is now required`);
  for (const key of NARROWER_WHEN_SMALLER) if (typeof b[key] === "number" && (typeof a[key] !== "number" || b[key] < a[key])) out.push(`${at}: ${key} narrowed to ${b[key]}`);
  for (const key of NARROWER_WHEN_LARGER) if (typeof b[key] === "number" && (typeof a[key] !== "number" || b[key] > a[key])) out.push(`${at}: ${key} narrowed to ${b[key]}`);
  if (b.pattern !== undefined && b.pattern !== a.pattern) out.push(`${at}: pattern changed to ${b.pattern}`);
  if (a.additionalProperties !== false && b.additionalProperties === false) out.push(`${at}: additional properties now refused`);
}

/** The major version of a document's info.version. */
export const majorOf = (document: Json) => Number(String(document.info?.version ?? "0").split(".")[0]);
