// The OpenAPI document is a product: frontend teams generate their clients from
// the committed openapi/openapi.json (design/PRODUCT.md). These tests keep it in
// step with the routes and keep it readable without opening the source.
import t from "tap";
import { readFile } from "node:fs/promises";
import { generateOpenApiDocument, OPENAPI_PATH } from "../scripts/openapi-document.ts";
import { operationIds } from "../src/http/operation-ids.ts";

type Json = Record<string, any>; // a parsed JSON document: any, so that the checks read like the document

const HTTP_METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
// @fastify/swagger fills in this text when a response schema has no description.
const PLACEHOLDER_DESCRIPTION = "Default Response";

const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value);
const hasText = (value: unknown) => typeof value === "string" && value.trim() !== "" && value !== PLACEHOLDER_DESCRIPTION;

t.test("the committed OpenAPI document matches the routes", async (t) => {
  const committed = await readFile(OPENAPI_PATH, "utf8").catch(() => "(missing)");
  const generated = await generateOpenApiDocument();
  if (committed === generated) return t.pass("openapi/openapi.json matches the routes");
  t.fail(`openapi/openapi.json is stale (${firstDifference(committed, generated)}): run \`npm run openapi\` and commit the result`);
});

t.test("every operation has a summary, tags, described responses and described fields", async (t) => {
  const document = JSON.parse(await generateOpenApiDocument()) as Json;
  const gaps = [...operationGaps(document), ...componentGaps(document)];
  t.same(gaps, [], gaps.length === 0 ? "every part of the API is documented" : `undocumented parts of the API: ${gaps.join("; ")}`);
});

t.test("every operation has the operationId the contract's list gives it, and the list names only real operations", async (t) => {
  const document = JSON.parse(await generateOpenApiDocument()) as Json;
  const listed = new Map(Object.entries(operationIds));
  const seen = new Set<string>();
  const gaps: string[] = [];
  for (const [name, operation] of operations(document)) {
    seen.add(name);
    if (!listed.has(name)) gaps.push(`${name}: not in src/http/operation-ids.ts`);
    else if (operation.operationId !== listed.get(name)) gaps.push(`${name}: operationId ${String(operation.operationId)}, the list says ${listed.get(name)}`);
  }
  for (const name of listed.keys()) if (!seen.has(name)) gaps.push(`${name}: listed, but no such operation`);
  t.same(gaps, [], "one operationId per operation, from the list");
  const ids = [...listed.values()];
  t.equal(new Set(ids).size, ids.length, "operationIds are unique");
  t.same(ids.filter((id) => !/^[a-z][A-Za-z0-9]*$/.test(id)), [], "operationIds are camelCase");
});

t.test("errors are problem+json with the codes of each operation; every answer names its request id; 429 and 503 say when to retry", async (t) => {
  const document = JSON.parse(await generateOpenApiDocument()) as Json;
  const gaps: string[] = [];
  for (const [name, operation] of operations(document)) {
    for (const [status, response] of Object.entries(operation.responses as Json)) {
      const r = response as Json;
      if (!isObject(r.headers) || !isObject(r.headers["x-request-id"])) gaps.push(`${name} ${status}: no x-request-id header`);
      if ((status === "429" || status === "503") && !isObject((r.headers as Json | undefined)?.["Retry-After"])) gaps.push(`${name} ${status}: no Retry-After header`);
      if (Number(status) < 400) continue;
      const media = Object.keys(isObject(r.content) ? r.content : {});
      if (media.join() !== "application/problem+json") gaps.push(`${name} ${status}: declared as ${media.join() || "nothing"}, not application/problem+json`);
      const codes = (r.content as Json)?.["application/problem+json"]?.schema?.allOf?.[1]?.properties?.code?.enum;
      if (!Array.isArray(codes) || codes.length === 0) gaps.push(`${name} ${status}: does not narrow code`);
    }
    if (!Array.isArray(operation.security)) gaps.push(`${name}: no security (public operations say security: [])`);
  }
  t.same(gaps, [], "every error response is problem+json with its codes");
});

t.test("every request body and every 2xx answer with content has an example; the sign-in outcomes are a oneOf told apart by status", async (t) => {
  const document = JSON.parse(await generateOpenApiDocument()) as Json;
  const gaps: string[] = [];
  const hasExample = (media: Json) => media.example !== undefined || isObject(media.examples);
  for (const [name, operation] of operations(document)) {
    for (const [type, media] of Object.entries((operation.requestBody as Json | undefined)?.content ?? {})) {
      if (!hasExample(media as Json)) gaps.push(`${name} request body (${type}): no example`);
    }
    for (const [status, response] of Object.entries(operation.responses as Json)) {
      if (!status.startsWith("2")) continue;
      for (const [type, media] of Object.entries((response as Json).content ?? {})) if (!hasExample(media as Json)) gaps.push(`${name} ${status} (${type}): no example`);
    }
  }
  t.same(gaps, [], "examples everywhere");
  const schemas = (document.components as Json).schemas as Json;
  for (const outcome of ["SignInOutcome", "SecondStepOutcome", "PushOutcome"]) {
    t.equal(schemas[outcome]?.discriminator?.propertyName, "status", `${outcome} is told apart by status`);
    t.ok(schemas[outcome].oneOf.every((variant: Json) => typeof variant.$ref === "string"), `${outcome}'s variants are named components`);
  }
  const login = (document.paths as Json)["/v1/auth/login"].post.responses["200"].content["application/json"];
  t.same(Object.values(login.examples as Json).map((e) => (e as Json).value.status).sort(), ["authenticated", "mfa_enrollment_required", "mfa_required"], "all three login outcomes have an example");
  const poll = (document.paths as Json)["/v1/auth/mfa/push/{challengeId}"].get.responses["200"].content["application/json"];
  t.same(Object.values(poll.examples as Json).map((e) => (e as Json).value.status).sort(), ["authenticated", "expired", "pending", "rejected"], "every push state has an example");
});

function firstDifference(committed: string, generated: string): string {
  const a = committed.split("\n");
  const b = generated.split("\n");
  const line = a.findIndex((text, i) => text !== b[i]);
  const at = line === -1 ? a.length : line;
  const shown = (lines: string[]) => JSON.stringify(lines[at]?.trim() ?? "(end)");
  return `first difference at line ${at + 1}: committed ${shown(a)}, generated ${shown(b)}`;
}

function declaredTags(document: Json): Map<string, unknown> {
  const tags = Array.isArray(document.tags) ? document.tags.filter(isObject) : [];
  return new Map(tags.map((tag) => [String(tag.name), tag.description]));
}

function* operations(document: Json): Generator<[string, Json]> {
  for (const [path, item] of Object.entries(isObject(document.paths) ? document.paths : {})) {
    if (!isObject(item)) continue;
    for (const method of HTTP_METHODS) {
      const operation = item[method];
      if (isObject(operation)) yield [`${method.toUpperCase()} ${path}`, operation];
    }
  }
}

function operationGaps(document: Json): string[] {
  const tags = declaredTags(document);
  const gaps: string[] = [];
  for (const [name, operation] of operations(document)) {
    if (!hasText(operation.summary)) gaps.push(`${name}: no summary`);
    gaps.push(...tagGaps(name, operation.tags, tags));
    gaps.push(...requestBodyGaps(name, operation.requestBody));
    gaps.push(...responseGaps(name, operation.responses));
  }
  return gaps;
}

function tagGaps(name: string, operationTags: unknown, declared: Map<string, unknown>): string[] {
  if (!Array.isArray(operationTags) || operationTags.length === 0) return [`${name}: no tags`];
  return operationTags.flatMap((tag) => {
    if (!declared.has(String(tag))) return [`${name}: tag "${tag}" is not declared in the top-level tags`];
    if (!hasText(declared.get(String(tag)))) return [`${name}: tag "${tag}" has no description`];
    return [];
  });
}

function requestBodyGaps(name: string, requestBody: unknown): string[] {
  if (!isObject(requestBody)) return [];
  return mediaSchemaGaps(`${name} request body`, requestBody.content);
}

function responseGaps(name: string, responses: unknown): string[] {
  if (!isObject(responses) || Object.keys(responses).length === 0) return [`${name}: no responses`];
  return Object.entries(responses).flatMap(([status, response]) => {
    const at = `${name} response ${status}`;
    if (!isObject(response)) return [`${at}: not an object`];
    const own = hasText(response.description) ? [] : [`${at}: no description`];
    return [...own, ...mediaSchemaGaps(at, response.content)];
  });
}

function mediaSchemaGaps(at: string, content: unknown): string[] {
  if (!isObject(content)) return [];
  return Object.entries(content).flatMap(([mediaType, media]) =>
    isObject(media) && isObject(media.schema) ? schemaGaps(`${at} (${mediaType})`, media.schema) : [],
  );
}

function componentGaps(document: Json): string[] {
  const components = isObject(document.components) && isObject(document.components.schemas) ? document.components.schemas : {};
  return Object.entries(components).flatMap(([name, schema]) =>
    isObject(schema) ? schemaGaps(`components.schemas.${name}`, schema) : [],
  );
}

/** Every property of every object schema, at any depth, says what it is (or is a $ref to something that does). */
function schemaGaps(at: string, schema: Json): string[] {
  const gaps: string[] = [];
  if (isObject(schema.properties)) {
    for (const [name, property] of Object.entries(schema.properties)) {
      if (!isObject(property)) continue;
      if (typeof property.$ref !== "string" && !hasText(property.description)) gaps.push(`${at}.${name}: no description`);
      gaps.push(...schemaGaps(`${at}.${name}`, property));
    }
  }
  for (const [key, child] of childSchemas(schema)) gaps.push(...schemaGaps(`${at}${key}`, child));
  return gaps;
}

/** The nested schemas other than properties: array items, union members, maps. */
function childSchemas(schema: Json): [string, Json][] {
  const children: [string, Json][] = [];
  if (isObject(schema.items)) children.push(["[]", schema.items]);
  if (isObject(schema.additionalProperties)) children.push(["{}", schema.additionalProperties]);
  if (isObject(schema.not)) children.push([".not", schema.not]);
  for (const key of ["anyOf", "oneOf", "allOf", "prefixItems"]) {
    const list = schema[key];
    if (Array.isArray(list)) list.forEach((member, i) => isObject(member) && children.push([`.${key}[${i}]`, member]));
  }
  return children;
}
