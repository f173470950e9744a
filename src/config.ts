// The one place that reads process.env. Every variable is declared once here,
// with its default and description; the type derives from the schema and
// .env.example documents the same list (a test keeps them in step).
import { Type, type Static, type TSchema } from "typebox";
import { Value } from "typebox/value";

const Int = (def: number, min: number, max: number, description: string) =>
  Type.Integer({ default: def, minimum: min, maximum: max, description });
const Str = (def: string, description: string) => Type.String({ default: def, description });
const Bool = (def: boolean, description: string) => Type.Boolean({ default: def, description });
const OptionalStr = (description: string) => Type.Optional(Type.String({ minLength: 1, description }));

export const ConfigSchema = Type.Object({
  MODE: Type.Union([Type.Literal("development"), Type.Literal("production")], {
    default: "development",
    description: "production refuses to start without configured signing and encryption keys",
  }),
  HOST: Str("127.0.0.1", "address to listen on (0.0.0.0 in a container)"),
  PORT: Int(3000, 0, 65535, "TCP port"),
  SHUTDOWN_GRACE_SECONDS: Int(10, 1, 120, "on SIGTERM/SIGINT: in-flight requests get this long to finish (long polls answer at once) before the process exits anyway"),
  LOG_LEVEL: Type.Union([
    Type.Literal("fatal"), Type.Literal("error"), Type.Literal("warn"), Type.Literal("info"),
    Type.Literal("debug"), Type.Literal("trace"), Type.Literal("silent"),
  ], {
    default: "info",
    description: "pino log level",
  }),
  TRUST_PROXY: Type.String({ default: "", description: "comma-separated proxy addresses whose X-Forwarded-For is honoured; empty trusts none" }),
  DATABASE_URL: Type.Optional(Type.String({ pattern: "^postgres(ql)?://", description: "PostgreSQL URL; when unset the embedded PGlite database under DATA_DIR is used" })),
  DATABASE_POOL_SIZE: Int(10, 1, 200, "PostgreSQL connections per instance"),
  DATA_DIR: Str("./data", "directory of the embedded database and of development keys"),
  MIGRATE_ON_START: Bool(true, "apply pending migrations at start-up"),
  REDIS_URL: OptionalStr("redis:// URL for shared rate-limit counters; when unset, PostgreSQL holds them"),
  ISSUER: OptionalStr("the public URL of this service: the iss claim of every token it signs, the OpenAPI server, HSTS when https; default http://HOST:PORT, the address it listens on"),
  CORS_ALLOWED_ORIGINS: OptionalStr("comma-separated exact origins (scheme://host[:port]) whose pages may call this service from a browser, with credentials; no wildcard; default in development the reference page (http://127.0.0.1:5173,http://localhost:5173), in production none"),
  METRICS_TOKEN: OptionalStr("bearer token that GET /metrics requires (at least 32 characters); while unset, /metrics answers 404 on the API port"),
  ACCESS_TOKEN_AUDIENCE: Str("bookkeeping-api", "the aud claim of access tokens"),
  SIGNING_KEYS: OptionalStr("JSON key file content (see README: Keys); takes precedence over SIGNING_KEYS_FILE"),
  SIGNING_KEYS_FILE: OptionalStr("path of the JSON signing key file; development default DATA_DIR/signing-keys.json, generated on first start"),
  ENCRYPTION_KEYS: OptionalStr("TOTP secret encryption keys, 'id:base64key,...' (32-byte keys); development default generated under DATA_DIR"),
  ENCRYPTION_ACTIVE_KEY_ID: OptionalStr("id of the encryption key new secrets are sealed with; default the last listed"),
  ACCESS_TOKEN_TTL_SECONDS: Int(600, 60, 3600, "access-token lifetime (checklist SJ-05: at most 15 min)"),
  SESSION_IDLE_TIMEOUT_SECONDS: Int(3600, 60, 30 * 86400, "a refresh token unused this long is dead (NIST SP 800-63B-4 §2.2.3: 1 h at AAL2)"),
  SESSION_ABSOLUTE_TIMEOUT_SECONDS: Int(86400, 300, 90 * 86400, "a session ends this long after sign-in whatever its use (NIST: 24 h at AAL2)"),
  REFRESH_REUSE_GRACE_SECONDS: Int(30, 0, 60, "a rotated refresh token presented again this soon is the same client racing itself (two tabs, a lost answer) and gets a new pair; later, reuse revokes the session (RFC 9700 §4.14.2); 0 turns the grace off"),
  PASSWORD_MIN_LENGTH: Int(15, 8, 64, "minimum password length in code points: 15 where a password may be the only factor (NIST SP 800-63B-4 §3.1.1.2); lower it (to 8 at least) only where every person must use 2SV"),
  PASSWORD_MAX_LENGTH: Int(1024, 64, 4096, "maximum password length in code points"),
  ARGON2_MEMORY_KIB: Int(65536, 19456, 1048576, "argon2id memory cost in KiB (RFC 9106 §4: 64 MiB; OWASP minimum 19 MiB)"),
  ARGON2_TIME_COST: Int(3, 1, 20, "argon2id iterations (RFC 9106 §4: 3 at 64 MiB; OWASP: 2 at 19 MiB)"),
  ARGON2_PARALLELISM: Int(1, 1, 16, "argon2id lanes"),
  ARGON2_MAX_CONCURRENT: Int(0, 0, 256, "concurrent hash operations per instance (memory = this x ARGON2_MEMORY_KIB); 0 means one per CPU core, which leaves libuv threads free for signing"),
  ARGON2_MAX_QUEUE: Int(64, 0, 10_000, "hash operations that may wait for a free one; beyond them a sign-in answers 503 SERVICE_BUSY with Retry-After at once (a caller that hangs up leaves the queue)"),
  LOGIN_RATE_PER_IP: Int(20, 1, 1_000_000, "sign-in requests per client address per minute"),
  LOGIN_FREE_FAILURES: Int(5, 1, 100, "password failures per account and client address before that address waits"),
  LOGIN_ACCOUNT_FREE_FAILURES: Int(20, 1, 1000, "password failures per account from all addresses (in 24 h) before the account waits, except sign-ins with a trusted device"),
  LOGIN_MAX_WAIT_SECONDS: Int(900, 1, 86400, "cap of the doubling wait after password failures (per address and account-wide)"),
  LOGIN_FAILURE_CAP: Int(100, 10, 100, "consecutive password failures that disable the password until a support unlock (NIST SP 800-63B-4 §3.2.2: at most 100)"),
  MFA_TOKEN_TTL_SECONDS: Int(300, 30, 1800, "lifetime of the MFA token between password and second step (checklist OTP-13: 5 min)"),
  MFA_MAX_ATTEMPTS_PER_TOKEN: Int(5, 1, 20, "second-step attempts one MFA token allows (checklist RL-06)"),
  MFA_FREE_FAILURES: Int(5, 1, 50, "consecutive second-factor failures per user before waits begin"),
  MFA_MAX_WAIT_SECONDS: Int(900, 1, 86400, "cap of the doubling wait after second-factor failures"),
  MFA_FAILURE_CAP: Int(20, 2, 100, "consecutive second-factor failures that disable the TOTP factor (NIST SP 800-63B-4 §3.2.2: at most 100)"),
  ENROLL_MAX_AUTH_AGE_SECONDS: Int(600, 60, 86400, "how recent the password sign-in must be to enroll or change 2SV"),
  RECOVERY_CODE_COUNT: Int(1, 1, 16, "recovery codes issued at a time (the help article shows one)"),
  TRUSTED_DEVICE_TTL_DAYS: Int(30, 1, 30, "lifetime of a trusted device (\"Remember this device for 30 days\"); not extended by use"),
  STEP_UP_TOKEN_TTL_SECONDS: Int(300, 60, 900, "lifetime of the access token a TOTP step-up returns"),
  FEDERATED_PROVIDER: Str("bankid", "name of the external identity provider (Mobile BankID broker); stored with each linked identity"),
  FEDERATED_ISSUER: OptionalStr("iss the provider's assertions must carry; external sign-in is off while unset"),
  FEDERATED_AUDIENCE: OptionalStr("aud the provider's assertions must carry (this service's client id at the provider)"),
  FEDERATED_JWKS_FILE: OptionalStr("path of a JSON Web Key Set file with the provider's public keys"),
  FEDERATED_JWKS_URL: OptionalStr("https URL of the provider's JWKS (used when FEDERATED_JWKS_FILE is unset)"),
  FEDERATED_MULTI_FACTOR: Bool(true, "the provider authenticates with several factors (BankID: possession plus PIN or biometrics) and satisfies the second step"),
  FEDERATED_ALGORITHMS: Str("ES256,EdDSA,PS256", "comma-separated JWS algorithms accepted from the provider (RFC 8725 §3.1: an explicit list)"),
  FEDERATED_MAX_AGE_SECONDS: Int(300, 30, 3600, "oldest assertion accepted, by its iat"),
  WEBHOOK_URL: OptionalStr("URL that receives signed JSON notifications (2SV on/off, recovery code used, new trusted device, lockout, policy)"),
  WEBHOOK_SECRET: OptionalStr("Standard Webhooks signing secret, whsec_<base64 of 24-64 random bytes>; a secret without the prefix (at least 32 characters, as before) is used as its UTF-8 bytes"),
  WEBHOOK_MAX_ATTEMPTS: Int(10, 1, 30, "delivery attempts per notification, with doubling back-off; then the notification is kept as dead"),
  WEBHOOK_TIMEOUT_MS: Int(5000, 100, 60000, "timeout of one delivery attempt"),
  WEBHOOK_RETRY_BASE_MS: Int(5000, 10, 3_600_000, "wait before the first retry; each later one waits about twice as long (with jitter)"),
  WEBHOOK_RETRY_MAX_MS: Int(3_600_000, 10, 86_400_000, "longest wait between two attempts, a Retry-After included"),
  WEBHOOK_POLL_INTERVAL_MS: Int(1000, 10, 60_000, "how often an idle outbox worker looks for due rows (it is woken at once for rows its own instance commits)"),
  WEBHOOK_LEGACY_HEADERS: Bool(false, "also send the former x-webhook-id, x-webhook-timestamp and x-webhook-signature (v1=hex) headers, for receivers not yet moved to Standard Webhooks"),
  PUSH_CHALLENGE_TTL_SECONDS: Int(120, 30, 600, "how long a push challenge can be answered in the authenticator app"),
  PUSH_PAIRING_TTL_SECONDS: Int(240, 60, 240, "lifetime of a pairing QR code, from scan to confirmation"),
  PUSH_NUMBER_MATCHING: Bool(true, "the sign-in page shows a 2-digit number the person types in the app (1 guess in 100)"),
  PUSH_MIN_WAIT_SECONDS: Int(10, 1, 3600, "wait after the first unapproved push before another can be sent; doubles with each"),
  PUSH_MAX_WAIT_SECONDS: Int(3600, 10, 86400, "cap of the doubling wait between unapproved pushes"),
  PUSH_NOT_ME_BLOCK_SECONDS: Int(3600, 60, 7 * 86400, "no pushes to a person for this long after they answered \"This wasn't me\""),
  SERVICE_NAME: Str("Bookkeeping & Invoicing", "shown as the issuer in authenticator apps"),
  // Push delivery (src/push/delivery): Web Push is on whenever VAPID keys exist; APNs and FCM only when configured.
  VAPID_PUBLIC_KEY: OptionalStr("Web Push VAPID public key, base64url P-256 point (RFC 8292 §3.2); development default generated under DATA_DIR; npm run cli -- push vapid-keys"),
  VAPID_PRIVATE_KEY: OptionalStr("Web Push VAPID private key, base64url 32 bytes; set together with VAPID_PUBLIC_KEY"),
  VAPID_SUBJECT: Type.Optional(Type.String({ pattern: "^(mailto:|https://).+", description: "contact for push services, mailto: or https: (RFC 8292 §2.1 sub); required in production with VAPID keys" })),
  WEB_PUSH_TIMEOUT_MS: Type.Optional(Type.Integer({ minimum: 100, maximum: 60000, description: "timeout of one Web Push attempt; default PUSH_SEND_TIMEOUT_MS" })),
  APNS_TEAM_ID: OptionalStr("Apple developer team id: the iss of the APNs provider token; APNs is off while unset"),
  APNS_KEY_ID: OptionalStr("id of the APNs auth key (.p8): the kid of the provider token"),
  APNS_PRIVATE_KEY_FILE: OptionalStr("path of the APNs auth key .p8 file (PKCS#8 PEM, P-256)"),
  APNS_PRIVATE_KEY: OptionalStr("APNs auth key PEM content; takes precedence over APNS_PRIVATE_KEY_FILE"),
  APNS_TOPIC: OptionalStr("bundle id of the iOS app, sent as apns-topic"),
  APNS_BASE_URL: Str("https://api.push.apple.com", "APNs provider API; https://api.sandbox.push.apple.com for development builds of the app"),
  FCM_SERVICE_ACCOUNT_FILE: OptionalStr("path of the Firebase service-account JSON key file; FCM is off while unset"),
  FCM_PROJECT_ID: OptionalStr("Firebase project id; default the project_id of the service-account file"),
  FCM_TOKEN_URL: OptionalStr("OAuth 2.0 token endpoint for the service-account assertion; default the file's token_uri"),
  FCM_BASE_URL: Str("https://fcm.googleapis.com", "FCM HTTP v1 API"),
  PUSH_SEND_TIMEOUT_MS: Int(5000, 100, 60000, "timeout of one push attempt (APNs, FCM and its token exchange, Web Push); a timed-out attempt is not retried"),
});

export type Config = Static<typeof ConfigSchema> & { ISSUER: string; CORS_ALLOWED_ORIGINS: string };

/** Where `npm run example:web` serves the reference sign-in page (examples/web). */
export const REFERENCE_PAGE_ORIGINS = "http://127.0.0.1:5173,http://localhost:5173";

/** The allow-list as a list; every entry is an exact origin. */
export function originsOf(value: string): string[] {
  return value.split(",").map((s) => s.trim()).filter(Boolean);
}

/** An origin as a browser sends it in the Origin header: scheme, host and port, nothing else (RFC 6454 §6.1). */
function originProblems(value: string): string[] {
  return originsOf(value).flatMap((origin) => {
    let parsed: URL | null = null;
    try { parsed = new URL(origin); } catch { /* reported below */ }
    const exact = parsed !== null && ["http:", "https:"].includes(parsed.protocol) && parsed.origin === origin && !origin.includes("*");
    return exact ? [] : [`CORS_ALLOWED_ORIGINS: ${JSON.stringify(origin)} is not an exact origin like https://app.example.com (no path, no wildcard)`];
  });
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

type PropertySchema = { description?: string; anyOf?: { const?: unknown }[] };

/** One line per variable; a choice of literals lists the allowed values. */
function describeErrors(schema: TSchema, value: unknown): string[] {
  const properties = ConfigSchema.properties as Record<string, PropertySchema>;
  const lines = new Map<string, string>();
  for (const e of Value.Errors(schema, value)) {
    const name = e.instancePath.replace(/^\//, "") || "(root)";
    if (lines.has(name)) continue;
    const property = properties[name];
    const choices = property?.anyOf?.every((a) => a.const !== undefined) ? property.anyOf.map((a) => String(a.const)) : null;
    const message = choices ? `must be one of ${choices.join(", ")}` : e.message;
    lines.set(name, `${name}: ${message}${property?.description ? ` (${property.description})` : ""}`);
  }
  return [...lines.values()];
}

/** The URL the service listens on, as a client on this machine reaches it (an any-address bind is reached on loopback). */
function listenUrl(host: string, port: number): string {
  const reachable = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "[::1]" : host.includes(":") ? `[${host}]` : host;
  return `http://${reachable}:${port}`;
}

/** Reads the environment once; unknown values get an actionable message, not a stack trace. */
export function loadConfig(env: Record<string, string | undefined> = process.env, overrides: Partial<Config> = {}): Config {
  const known = Object.keys(ConfigSchema.properties);
  const raw: Record<string, unknown> = {};
  for (const key of known) {
    const value = env[key];
    if (value !== undefined && value !== "") raw[key] = value;
  }
  const converted = Value.Convert(ConfigSchema, Value.Default(ConfigSchema, raw)) as Record<string, unknown>;
  const merged = { ...converted, ...overrides };
  const problems = describeErrors(ConfigSchema, merged);
  if (typeof merged.METRICS_TOKEN === "string" && merged.METRICS_TOKEN.length < 32) problems.push("METRICS_TOKEN: must be at least 32 characters");
  const origins = (merged.CORS_ALLOWED_ORIGINS as string | undefined) ?? (merged.MODE === "development" ? REFERENCE_PAGE_ORIGINS : "");
  problems.push(...originProblems(origins));
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    ...merged,
    ISSUER: (merged.ISSUER as string | undefined) ?? listenUrl(merged.HOST as string, merged.PORT as number),
    CORS_ALLOWED_ORIGINS: origins,
  } as Config;
}
