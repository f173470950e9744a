// The reference authenticator app on the command line: a key in a file (mode
// 0600), pairing from a QR code's URI, and approve/reject with number matching.
//   npm run authenticator -- pair <uri> [--name NAME] [--web-push-subscription JSON]
//   npm run authenticator -- watch
//   npm run authenticator -- approve --number NN [--wait S]
//   npm run authenticator -- reject [--not-me] [--wait S]
//   npm run authenticator -- add-totp LABEL SECRET | code [LABEL]
// Every command takes --key-file PATH (default ./authenticator-key.json).
import { chmod, readFile, writeFile } from "node:fs/promises";
import { createInterface } from "node:readline/promises";
import { parseArgs } from "node:util";
import { generateTotpCode } from "../lib/totp.ts";
import type { PushAddress } from "../push/delivery/sender.ts";
import { createAuthenticatorClient, fetchTransport, newAppState, type AppState, type PendingChallenge } from "./client.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    "key-file": { type: "string", default: "./authenticator-key.json" },
    name: { type: "string", default: "Reference authenticator" },
    number: { type: "string" },
    wait: { type: "string", default: "25" },
    "not-me": { type: "boolean", default: false },
    "web-push-subscription": { type: "string" },
  },
});
const keyFile = values["key-file"]!;
const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

async function load(): Promise<AppState | null> {
  try {
    return JSON.parse(await readFile(keyFile, "utf8")) as AppState;
  } catch {
    return null;
  }
}

async function save(state: AppState) {
  await writeFile(keyFile, JSON.stringify(state, null, 2), { mode: 0o600 });
  await chmod(keyFile, 0o600);
}

async function paired() {
  const state = await load();
  if (!state?.serviceUrl) throw new Error(`no paired key in ${keyFile}: run pair <uri> first`);
  return createAuthenticatorClient(state, fetchTransport(state.serviceUrl));
}

/** The one pending challenge, waiting up to --wait seconds for it. */
async function onePending(client: Awaited<ReturnType<typeof paired>>): Promise<PendingChallenge> {
  const deadline = Date.now() + Number(values.wait) * 1000;
  for (;;) {
    const [challenge] = await client.pending(Math.max(0, Math.min(25, Math.ceil((deadline - Date.now()) / 1000))));
    if (challenge) return challenge;
    if (Date.now() >= deadline) throw new Error("no pending challenge");
  }
}

const describe = (c: PendingChallenge) =>
  `Sign-in to ${c.service} at ${c.requestedAt}\n  from ${c.clientAddress ?? "unknown address"}, ${c.browser ?? "unknown browser"} on ${c.os ?? "unknown system"}`;

async function watch() {
  const client = await paired();
  const terminal = createInterface({ input: process.stdin, output: process.stdout });
  process.stdout.write("Waiting for sign-ins (Ctrl-C to stop)...\n");
  for (;;) {
    const [challenge] = await client.pending(25);
    if (!challenge) continue;
    process.stdout.write(`\n${describe(challenge)}\n`);
    const choice = (await terminal.question("Approve? [y]es / [n]o / [r]eport 'This wasn't me': ")).trim().toLowerCase();
    if (choice.startsWith("y")) {
      const number = challenge.numberRequired ? (await terminal.question("Number shown on the sign-in page: ")).trim() : undefined;
      print(await client.answer(challenge, "approve", { number }));
    } else {
      print(await client.answer(challenge, "reject", { reason: choice.startsWith("r") ? "not_me" : "declined" }));
    }
  }
}

/** A PushSubscription's JSON (endpoint, keys.p256dh, keys.auth), as a browser's PushManager gives it. */
function webPushAddress(json: string | undefined): PushAddress | undefined {
  if (!json) return undefined;
  const { endpoint, keys } = JSON.parse(json) as { endpoint?: unknown; keys?: { p256dh?: unknown; auth?: unknown } };
  if (typeof endpoint !== "string" || typeof keys?.p256dh !== "string" || typeof keys.auth !== "string") {
    throw new Error("--web-push-subscription takes a PushSubscription's JSON: {\"endpoint\", \"keys\": {\"p256dh\", \"auth\"}}");
  }
  return { kind: "webpush", subscription: { endpoint, keys: { p256dh: keys.p256dh, auth: keys.auth } } };
}

async function main() {
  const [command, ...rest] = positionals;
  switch (command) {
    case "pair": {
      if (!rest[0]) throw new Error("pair needs the pairing URI (pairingUri)");
      const state = (await load()) ?? (await newAppState(values.name!));
      const client = createAuthenticatorClient(state, fetchTransport(new URL(rest[0]).searchParams.get("url") ?? ""));
      const result = await client.pair(rest[0], { pushAddress: webPushAddress(values["web-push-subscription"]) });
      await save(client.state);
      return print({ ...result, name: state.name, next: "confirm this name in the session that started the pairing" });
    }
    case "watch": return watch();
    case "approve": {
      const client = await paired();
      return print(await client.answer(await onePending(client), "approve", { number: values.number }));
    }
    case "reject": {
      const client = await paired();
      return print(await client.answer(await onePending(client), "reject", { reason: values["not-me"] ? "not_me" : "declined" }));
    }
    case "add-totp": {
      const state = (await load()) ?? (await newAppState(values.name!));
      state.totpSecrets[rest[0] ?? "default"] = rest[1] ?? "";
      await save(state);
      return print({ added: rest[0] ?? "default" });
    }
    case "code": {
      const state = await load();
      const secret = state?.totpSecrets[rest[0] ?? "default"];
      if (!secret) throw new Error("no such TOTP secret: add-totp LABEL SECRET first");
      return print({ code: await generateTotpCode(secret, new Date()) });
    }
    default:
      throw new Error("commands: pair <uri> | watch | approve --number NN | reject [--not-me] | add-totp LABEL SECRET | code [LABEL]");
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
});
