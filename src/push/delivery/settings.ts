// Config → the narrow settings createPushDelivery takes. Files are read and
// keys checked here, at start-up, so a wrong key stops the start with a
// message naming the variable instead of failing every push later.
import { createPrivateKey } from "node:crypto";
import { readFile } from "node:fs/promises";
import { ConfigError, type Config } from "../../config.ts";
import type { ApnsSettings } from "./apns.ts";
import type { FcmSettings } from "./fcm.ts";
import { resolveVapidKeys } from "./vapid-keys.ts";
import type { WebPushSettings } from "./web-push.ts";

export interface PushDeliverySettings {
  /** null: that kind of address is answered "failed" without a request. */
  webPush: WebPushSettings | null;
  apns: ApnsSettings | null;
  fcm: FcmSettings | null;
  /** The wait before each retry of a transient failure; its length is the number of retries. */
  retryDelaysMs: readonly number[];
}

export const DEFAULT_RETRY_DELAYS_MS = [200, 400] as const;
const GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token";

type Problems = string[];

function keyTypeProblem(name: string, pem: string, type: "ec" | "rsa"): string | null {
  try {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType !== type) return `${name}: must be ${type === "ec" ? "a P-256 (EC)" : "an RSA"} private key`;
    return null;
  } catch {
    return `${name}: not a readable PEM private key`;
  }
}

async function readConfigured(name: string, file: string, problems: Problems): Promise<string | null> {
  return readFile(file, "utf8").catch(() => {
    problems.push(`${name}: cannot read ${file}`);
    return null;
  });
}

async function apnsSettings(config: Config, problems: Problems): Promise<ApnsSettings | null> {
  const { APNS_TEAM_ID: teamId, APNS_KEY_ID: keyId, APNS_TOPIC: topic, APNS_PRIVATE_KEY, APNS_PRIVATE_KEY_FILE } = config;
  if (!teamId && !keyId && !topic && !APNS_PRIVATE_KEY && !APNS_PRIVATE_KEY_FILE) return null;
  const missing = [
    ...(teamId ? [] : ["APNS_TEAM_ID"]), ...(keyId ? [] : ["APNS_KEY_ID"]), ...(topic ? [] : ["APNS_TOPIC"]),
    ...(APNS_PRIVATE_KEY || APNS_PRIVATE_KEY_FILE ? [] : ["APNS_PRIVATE_KEY_FILE or APNS_PRIVATE_KEY"]),
  ];
  if (missing.length > 0) {
    problems.push(...missing.map((name) => `${name}: required once any APNS_* variable is set`));
    return null;
  }
  const privateKey = APNS_PRIVATE_KEY ?? (await readConfigured("APNS_PRIVATE_KEY_FILE", APNS_PRIVATE_KEY_FILE!, problems));
  if (privateKey === null) return null;
  const keyProblem = keyTypeProblem(APNS_PRIVATE_KEY ? "APNS_PRIVATE_KEY" : "APNS_PRIVATE_KEY_FILE", privateKey, "ec");
  if (keyProblem) return problems.push(keyProblem), null;
  return { teamId: teamId!, keyId: keyId!, topic: topic!, privateKey, baseUrl: config.APNS_BASE_URL, timeoutMs: config.PUSH_SEND_TIMEOUT_MS };
}

interface ServiceAccount { client_email?: unknown; private_key?: unknown; project_id?: unknown; token_uri?: unknown }

async function fcmSettings(config: Config, problems: Problems): Promise<FcmSettings | null> {
  const file = config.FCM_SERVICE_ACCOUNT_FILE;
  if (!file) {
    if (config.FCM_PROJECT_ID) problems.push("FCM_SERVICE_ACCOUNT_FILE: required when FCM_PROJECT_ID is set");
    return null;
  }
  const text = await readConfigured("FCM_SERVICE_ACCOUNT_FILE", file, problems);
  if (text === null) return null;
  let account: ServiceAccount;
  try {
    account = JSON.parse(text) as ServiceAccount;
  } catch {
    return problems.push(`FCM_SERVICE_ACCOUNT_FILE: ${file} is not JSON`), null;
  }
  const projectId = config.FCM_PROJECT_ID ?? (typeof account.project_id === "string" ? account.project_id : undefined);
  const { client_email: clientEmail, private_key: privateKey } = account;
  if (typeof clientEmail !== "string" || typeof privateKey !== "string") {
    return problems.push("FCM_SERVICE_ACCOUNT_FILE: needs client_email and private_key (a service-account key file)"), null;
  }
  if (!projectId) return problems.push("FCM_PROJECT_ID: required when the service-account file has no project_id"), null;
  const keyProblem = keyTypeProblem("FCM_SERVICE_ACCOUNT_FILE private_key", privateKey, "rsa");
  if (keyProblem) return problems.push(keyProblem), null;
  const tokenUrl = config.FCM_TOKEN_URL ?? (typeof account.token_uri === "string" ? account.token_uri : GOOGLE_TOKEN_URL);
  return { projectId, clientEmail, privateKey, tokenUrl, baseUrl: config.FCM_BASE_URL, timeoutMs: config.PUSH_SEND_TIMEOUT_MS };
}

/** Reads the key files and checks every push variable; throws one ConfigError listing every problem. */
export async function pushDeliverySettings(config: Config): Promise<PushDeliverySettings> {
  const problems: Problems = [];
  const vapid = await resolveVapidKeys(config).catch((error: unknown) => {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
    return null;
  });
  const apns = await apnsSettings(config, problems);
  const fcm = await fcmSettings(config, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  const webPush = vapid ? { ...vapid, timeoutMs: config.WEB_PUSH_TIMEOUT_MS ?? config.PUSH_SEND_TIMEOUT_MS } : null;
  return { webPush, apns, fcm, retryDelaysMs: DEFAULT_RETRY_DELAYS_MS };
}
