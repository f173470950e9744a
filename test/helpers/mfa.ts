// Helpers for two-step verification tests: codes are computed with an
// independent RFC 6238 implementation (node:crypto), not our TOTP module.
import { createHmac } from "node:crypto";
import type { App } from "../../src/http/app-type.ts";
import { bearer, createUser, login, TEST_PASSWORD } from "./app.ts";

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function base32Decode(input: string): Buffer {
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const char of input.replace(/=+$/, "")) {
    value = (value << 5) | BASE32.indexOf(char);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/** RFC 6238 with SHA-1, 6 digits, 30 s steps (RFC 4226 §5.3 dynamic truncation). */
export function totpAt(secretBase32: string, at: Date, stepOffset = 0): string {
  const step = Math.floor(at.getTime() / 1000 / 30) + stepOffset;
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", base32Decode(secretBase32)).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return code.toString().padStart(6, "0");
}

/** Creates a user, signs in, enrolls TOTP and returns what later steps need. */
export async function enrolledUser(app: App, now: () => Date) {
  const user = await createUser(app);
  const first = (await login(app, user.email)).json();
  const start = await app.inject({ method: "POST", url: "/v1/me/mfa/totp", headers: bearer(first.accessToken) });
  if (start.statusCode !== 200) throw new Error(`enroll start: ${start.statusCode} ${start.body}`);
  const secret = new URL(start.json().otpauthUri).searchParams.get("secret")!;
  const confirm = await app.inject({
    method: "POST", url: "/v1/me/mfa/totp/confirm", headers: bearer(first.accessToken), payload: { code: totpAt(secret, now()) },
  });
  if (confirm.statusCode !== 200) throw new Error(`enroll confirm: ${confirm.statusCode} ${confirm.body}`);
  return { ...user, secret, recoveryCodes: confirm.json().recoveryCodes as string[], accessToken: first.accessToken as string, password: TEST_PASSWORD };
}

export async function mfaToken(app: App, email: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await login(app, email, TEST_PASSWORD, extra);
  const body = res.json();
  if (body.status !== "mfa_required") throw new Error(`expected mfa_required, got ${res.statusCode} ${res.body}`);
  return body.mfaToken;
}

export function verify(app: App, payload: Record<string, unknown>) {
  return app.inject({ method: "POST", url: "/v1/auth/mfa/verify", payload });
}
