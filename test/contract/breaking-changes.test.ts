// The released v1 document (openapi/v1.json) is a promise to every generated
// client: the generated document may add to it, never break it, unless it
// declares a new major version (info.version, plugins/openapi.ts API_VERSION),
// which is then released as openapi/v<major>.json. The rules are listed in
// breaking-changes.ts; the second test shows each one catching its change.
import t from "tap";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { generateOpenApiDocument } from "../../scripts/openapi-document.ts";
import { breakingChanges, majorOf } from "./breaking-changes.ts";

type Json = Record<string, any>;
const releasedPath = (major: number) => fileURLToPath(new URL(`../../openapi/v${major}.json`, import.meta.url));
const v1 = JSON.parse(readFileSync(releasedPath(1), "utf8")) as Json;

t.test("the generated document breaks nothing of the released document of its major version", async (t) => {
  const generated = JSON.parse(await generateOpenApiDocument()) as Json;
  const major = majorOf(generated);
  if (!existsSync(releasedPath(major))) {
    t.ok(major > majorOf(v1), `v${major} is a new major version, declared in info.version: release it as openapi/v${major}.json`);
    return;
  }
  const released = JSON.parse(readFileSync(releasedPath(major), "utf8")) as Json;
  const changes = breakingChanges(released, generated);
  t.same(changes, [], changes.length === 0
    ? `compatible with openapi/v${major}.json`
    : `breaking changes against openapi/v${major}.json (declare a new major version instead): ${changes.join("; ")}`);
});

/** Each rule, applied to a copy of v1 changed the way a careless route change would. */
t.test("the comparison catches each kind of breaking change", async (t) => {
  const changed = (edit: (doc: Json) => void) => {
    const doc = structuredClone(v1);
    edit(doc);
    return breakingChanges(v1, doc);
  };
  const catches = (what: string, edit: (doc: Json) => void, expected: RegExp) => {
    const found = changed(edit);
    t.ok(found.some((c) => expected.test(c)), `${what}: ${found.join("; ") || "nothing found"}`);
  };
  t.same(breakingChanges(v1, structuredClone(v1)), [], "an unchanged document is compatible");
  catches("a path renamed", (d) => { d.paths["/v1/session/refresh"] = d.paths["/v1/auth/refresh"]; delete d.paths["/v1/auth/refresh"]; }, /path \/v1\/auth\/refresh removed/);
  catches("an operation removed", (d) => { delete d.paths["/v1/me/sessions"].delete; }, /DELETE \/v1\/me\/sessions: operation removed/);
  catches("an operationId renamed", (d) => { d.paths["/v1/auth/login"].post.operationId = "signIn"; }, /operationId login renamed to signIn/);
  catches("a response field removed", (d) => { delete d.components.schemas.TokenAnswer.properties.expiresIn; }, /property expiresIn removed/);
  catches("a nested response field removed", (d) => { delete d.components.schemas.RequirementSource.properties.companyName; }, /property companyName removed/);
  catches("an enum value removed", (d) => { d.components.schemas.PushOutcome.oneOf.pop(); }, /PushExpired removed|enum value "expired" removed/);
  catches("a literal of a union removed", (d) => { d.components.schemas.CompanyKind.anyOf.pop(); }, /enum value "accounting_office" removed/);
  catches("a request field made required", (d) => { d.paths["/v1/auth/login"].post.requestBody.content["application/json"].schema.required.push("deviceToken"); }, /deviceToken is now required/);
  catches("a request maxLength narrowed", (d) => { d.paths["/v1/auth/login"].post.requestBody.content["application/json"].schema.properties.password.maxLength = 64; }, /maxLength narrowed to 64/);
  catches("a query parameter pattern narrowed", (d) => {
    const wait = d.paths["/v1/auth/mfa/push/{challengeId}"].get.parameters.find((p: Json) => p.name === "waitSeconds");
    wait.schema.pattern = "^[0-9]$";
  }, /parameter query:waitSeconds: pattern changed/);
  catches("a type changed", (d) => { d.components.schemas.TokenAnswer.properties.expiresIn.type = "string"; }, /type "integer" changed to "string"/);
  catches("a 2xx response removed", (d) => { delete d.paths["/v1/me"].get.responses["200"]; }, /GET \/v1\/me: response 200 removed/);
  t.same(changed((d) => { d.paths["/v1/new"] = d.paths["/v1/me"]; d.components.schemas.TokenAnswer.properties.extra = { type: "string", description: "new" }; }), [],
    "additions are not breaking");
});
