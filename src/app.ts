// buildApp(options): the composition root. Production (server.ts), the OpenAPI
// generator and every test build the service through this one function with the
// same wiring: repositories -> services -> routes. The CLI's commands use the
// same repository and service factories (src/cli.ts), without the HTTP layer.
// Every dependency is created here and passed down; no feature builds another's.
import { randomUUID } from "node:crypto";
import Fastify, { type FastifyBaseLogger } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Redis } from "ioredis";
import type { DestinationStream } from "pino";
import { originsOf, type Config } from "./config.ts";
import { AppError } from "./errors.ts";
import { openDatabase, transactionOf, type Database, type Db } from "./db/database.ts";
import { systemClock, type Clock } from "./lib/clock.ts";
import { CLOCK_TOLERANCE_SECONDS, createKeyRing } from "./lib/signing-keys.ts";
import { createSecretBox } from "./lib/secret-box.ts";
import { createPasswordHasher } from "./lib/passwords.ts";
import { resolveKeyMaterial, type KeyMaterial } from "./key-material.ts";
import { createLogger } from "./logging.ts";
import type { App } from "./http/app-type.ts";
import { createGuards } from "./http/guards.ts";
import { ProblemSchema } from "./http/problem.ts";
import { frameworkErrorHandler, registerProblemHandler } from "./plugins/problem-handler.ts";
import { ref, registerComponents } from "./http/components.ts";
import { observeProblems, type ProblemObserver } from "./plugins/problem-observer.ts";
import { registerOpenApi } from "./plugins/openapi.ts";
import { registerMetrics } from "./plugins/metrics.ts";
import { failClosed, oneTimeClaims, postgresCounterStore, redisCounterStore, type CounterStore } from "./rate-limit/counter-store.ts";
import { createSignInThrottle } from "./rate-limit/sign-in-throttle.ts";
import { createUserRepository } from "./accounts/repository.ts";
import { createAccountsService } from "./accounts/service.ts";
import { createPasswordCheck } from "./accounts/password-check.ts";
import { registerAccountRoutes } from "./accounts/routes.ts";
import { createSessionRepository } from "./sessions/repository.ts";
import { createAccessTokens } from "./sessions/access-tokens.ts";
import { createSessionService } from "./sessions/service.ts";
import { registerSessionRoutes } from "./sessions/routes.ts";
import { registerCookieTransport, SESSION_TRANSPORT_HEADER } from "./sessions/cookie-transport.ts";
import { registerCors } from "./http/cors.ts";
import { registerCallerSignal } from "./http/caller-signal.ts";
import { createSignInService } from "./sign-in/service.ts";
import { registerSignInRoutes } from "./sign-in/routes.ts";
import { createClientRepository } from "./clients/repository.ts";
import { createClientService } from "./clients/service.ts";
import { registerHealthRoutes } from "./health/routes.ts";
import { createDeviceRepository } from "./devices/repository.ts";
import { createDeviceService } from "./devices/service.ts";
import { registerDeviceRoutes } from "./devices/routes.ts";
import { createMfaRepository } from "./mfa/repository.ts";
import { createChallengeRepository } from "./mfa/challenge-repository.ts";
import { createSecondFactorChecker } from "./mfa/second-factor.ts";
import { createEnrollmentService } from "./mfa/enrollment.ts";
import { createChallengeService } from "./mfa/challenges.ts";
import { createSecondStepService } from "./mfa/second-step.ts";
import { createSecurityStateReader } from "./mfa/security-state.ts";
import { SecurityStateSchema } from "./mfa/schemas.ts";
import { securityStateExample } from "./mfa/routes.ts";
import { registerMfaRoutes } from "./mfa/routes.ts";
import { createRequestContext } from "./audit/request-context.ts";
import { createAuditRepository } from "./audit/repository.ts";
import { createAuditLog } from "./audit/service.ts";
import { createSecurityEvents } from "./audit/events.ts";
import { registerAuditRoutes } from "./audit/routes.ts";
import { createWebhookSender } from "./outbox/webhook.ts";
import { createOutboxWorker, type OutboxWorker } from "./outbox/worker.ts";
import { createCompanyRepository } from "./companies/repository.ts";
import { createCompanyService } from "./companies/service.ts";
import { createTwoStepPolicy } from "./companies/policy.ts";
import { registerCompanyRoutes } from "./companies/routes.ts";
import { createAssertionVerifier } from "./federated/assertion.ts";
import { resolveProvider } from "./federated/provider.ts";
import { createExternalIdentityRepository } from "./federated/repository.ts";
import { createFederatedService } from "./federated/service.ts";
import { announceProvider, registerFederatedRoutes } from "./federated/routes.ts";
import { createPushAuthenticatorRepository } from "./push/authenticator-repository.ts";
import { createPushChallengeRepository } from "./push/challenge-repository.ts";
import { createPairingService, toView } from "./push/pairing.ts";
import { createPushService, MAX_WAIT_SECONDS } from "./push/service.ts";
import { createAppAuthenticator } from "./push/app-requests.ts";
import { createWakeup, databaseTransport, redisTransport } from "./push/wakeup.ts";
import { createPushDelivery, type PushSender } from "./push/delivery/sender.ts";
import { pushDeliverySettings } from "./push/delivery/settings.ts";
import { registerPushRoutes } from "./push/routes.ts";

export interface BuildOptions {
  config: Config;
  clock?: Clock;
  /** Where logs go; stdout when absent. Tests pass a stream to inspect log lines. */
  logStream?: DestinationStream;
  /** An already open database to share (several instances on one database); the app will not close it. */
  database?: Database;
  /** Delivery of push challenges to phones; none by default (apps long-poll). */
  pushSender?: PushSender;
  /** Told of every problem answer a route sends (the tests check each against the document). */
  observeProblem?: ProblemObserver;
}

declare module "fastify" {
  interface FastifyInstance {
    /** The app's database, for the CLI and grey-box tests; routes never reach for it. */
    database: Database;
  }
}

const AUTH_BODY_LIMIT = 16 * 1024; // checklist IV-02

function createFastify(config: Config, logStream?: DestinationStream): App {
  const trustProxy = config.TRUST_PROXY.split(",").map((s) => s.trim()).filter(Boolean);
  return Fastify({
    loggerInstance: createLogger(config.LOG_LEVEL, logStream) as FastifyBaseLogger,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    trustProxy: trustProxy.length > 0 ? trustProxy : false,
    bodyLimit: AUTH_BODY_LIMIT,
    onProtoPoisoning: "error",
    onConstructorPoisoning: "error",
    // Long polls (push: at most 25 s) hold an idle socket: the timeouts leave them room.
    connectionTimeout: (MAX_WAIT_SECONDS + 10) * 1000,
    requestTimeout: 15_000,
    keepAliveTimeout: 72_000,
    return503OnClosing: true,
    frameworkErrors: frameworkErrorHandler,
    // Fastify's Ajv defaults coerce types and silently drop unknown fields; an
    // identity API must refuse both (checklist IV-01).
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();
}

/** The shared counters, and a readiness check of where they live. */
function createCounterStore(config: Config, database: Database, app: App): { counters: CounterStore; ping: () => Promise<void> } {
  const onError = (error: unknown) => app.log.error({ err: error }, "rate-limit store failed");
  if (!config.REDIS_URL) return { counters: failClosed(postgresCounterStore(database.prisma), onError), ping: async () => {} };
  // Commands wait for the first connection (a new instance must not refuse its
  // first sign-ins), but never longer than a second: a dead Redis fails closed.
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: true, commandTimeout: 1_000, connectTimeout: 2_000 });
  redis.on("error", (error) => app.log.warn({ err: error }, "redis connection error"));
  app.addHook("onClose", async () => { redis.disconnect(); });
  // While Redis is down every sign-in fails closed, so the instance is not ready (checklist RL-08).
  return { counters: failClosed(redisCounterStore(redis), onError), ping: async () => { await redis.ping(); } };
}

/** Probes and scrapes log only warnings, or less when LOG_LEVEL asks for less. */
function quietLogLevel(level: Config["LOG_LEVEL"]): Config["LOG_LEVEL"] {
  return ["error", "fatal", "silent"].includes(level) ? level : "warn";
}

// Query parameters that would carry a credential. A URL ends up in proxy logs,
// browser history and Referer headers (RFC 6750 §5.3, RFC 9700 §4.3.2), so such
// a request is refused whatever the route, and its query never reaches our log.
const CREDENTIAL_PARAMETERS = new Set([
  "access_token", "accesstoken", "refresh_token", "refreshtoken", "id_token", "token", "mfatoken", "mfa_token", "enrollmenttoken",
  "devicetoken", "device_token", "code", "password", "api_key", "apikey", "x-api-key", "assertion", "secret", "recoverycode",
]);

function carriesCredential(query: unknown): boolean {
  return Object.keys((query ?? {}) as object).some((key) => CREDENTIAL_PARAMETERS.has(key.toLowerCase()));
}

function registerHttpConventions(app: App, publicUrl: string) {
  // JSON only: Fastify would otherwise parse text/plain (checklist IV-04).
  app.removeContentTypeParser("text/plain");
  app.addSchema(ProblemSchema);
  registerComponents(app);
  const https = publicUrl.startsWith("https://");
  app.addHook("onRequest", async (request, reply) => {
    reply.header("x-request-id", request.id);
    // Token responses must never be cached (RFC 6749 §5.1); nothing here should be.
    reply.header("cache-control", "no-store");
    // No answer is ever to be sniffed into another type (ASVS 3.4.4).
    reply.header("x-content-type-options", "nosniff");
    // Behind an https public URL, browsers must never fall back to http (RFC 6797; ASVS 3.4.1).
    if (https) reply.header("strict-transport-security", "max-age=31536000; includeSubDomains");
    if (carriesCredential(request.query)) throw new AppError("CREDENTIAL_IN_URL");
  });
  return registerProblemHandler(app);
}

export async function buildApp(options: BuildOptions): Promise<App> {
  const { config } = options;
  const clock = options.clock ?? systemClock;
  const keyMaterial = await resolveKeyMaterial(config, clock.now());
  const database =
    options.database ?? (await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR, poolSize: config.DATABASE_POOL_SIZE }));
  const app = createFastify(config, options.logStream);
  app.decorate("database", database);
  if (options.observeProblem) observeProblems(app, options.observeProblem);
  if (!options.database) app.addHook("onClose", () => database.close());
  try {
    if (config.MIGRATE_ON_START) {
      const applied = await database.migrate();
      if (applied.length > 0) app.log.info({ applied }, "migrations applied");
    }
    await wireFeatures(app, config, clock, database, keyMaterial, options.pushSender);
    await app.ready();
    return app;
  } catch (error) {
    await app.close();
    throw error;
  }
}

/** Every repository, bound to one database client: the app's, or one transaction's. */
function repositoriesOf(db: Db, clock: Clock, federatedProvider: string) {
  return {
    users: createUserRepository(db),
    sessions: createSessionRepository(db),
    clients: createClientRepository(db),
    devices: createDeviceRepository(db),
    mfa: createMfaRepository(db),
    challenges: createChallengeRepository(db),
    audit: createAuditRepository(db),
    companies: createCompanyRepository(db, clock),
    externalIdentities: createExternalIdentityRepository(db, federatedProvider),
    pushAuthenticators: createPushAuthenticatorRepository(db),
    pushChallenges: createPushChallengeRepository(db),
  };
}

/**
 * The webhook outbox's worker, when WEBHOOK_URL and WEBHOOK_SECRET are set:
 * every instance runs one, and they share the rows (outbox/worker.ts).
 */
function wireOutbox(app: App, config: Config, repositories: ReturnType<typeof repositoriesOf>, countDelivery: (outcome: string) => void): OutboxWorker | null {
  if (!config.WEBHOOK_URL || !config.WEBHOOK_SECRET) return null;
  const send = createWebhookSender({
    url: config.WEBHOOK_URL, secret: config.WEBHOOK_SECRET, timeoutMs: config.WEBHOOK_TIMEOUT_MS, legacyHeaders: config.WEBHOOK_LEGACY_HEADERS,
  });
  const worker = createOutboxWorker({
    store: repositories.audit,
    send,
    settings: {
      maxAttempts: config.WEBHOOK_MAX_ATTEMPTS,
      baseDelayMs: config.WEBHOOK_RETRY_BASE_MS,
      maxDelayMs: config.WEBHOOK_RETRY_MAX_MS,
      pollIntervalMs: config.WEBHOOK_POLL_INTERVAL_MS,
      // Longer than an attempt can take, so no other worker takes a row still being delivered.
      leaseMs: config.WEBHOOK_TIMEOUT_MS + 30_000,
    },
    log: app.log,
    count: countDelivery,
  });
  app.addHook("onReady", async () => { worker.start(); });
  // After the current row, before the database closes (onClose hooks of one instance run last-added first).
  app.addHook("onClose", () => worker.stop());
  return worker;
}

/** Audit log, outbox and metrics: where every security event goes. */
function wireEvents(
  app: App, config: Config, clock: Clock, repositories: ReturnType<typeof repositoriesOf>,
  membersSince: (companyId: string) => Promise<{ userId: string; since: Date }[]>,
) {
  const metrics = registerMetrics(app, quietLogLevel(config.LOG_LEVEL), config.METRICS_TOKEN, repositories.audit.countOutbox);
  const requestContext = createRequestContext(app);
  const worker = wireOutbox(app, config, repositories, metrics.countDelivery);
  const audit = createAuditLog({
    events: repositories.audit, eventsOn: createAuditRepository, context: requestContext, clock, membersSince, onOutboxStored: worker?.nudge,
  });
  // What is still pending when the response leaves is written in one statement, before it is sent.
  app.addHook("onSend", async () => audit.flush());
  const onEvent = createSecurityEvents({ audit, notifications: worker !== null, context: requestContext, countEvent: metrics.countEvent, log: app.log, clock });
  return { audit, onEvent, metrics, requestContext };
}

/** Signing keys, the password hasher and the secret box. */
async function wireCrypto(config: Config, clock: Clock, keyMaterial: KeyMaterial, callerSignal: () => AbortSignal | undefined) {
  const keys = await createKeyRing(keyMaterial.signingKeys, {
    // Retired public keys stay published until every token they signed expired (checklist SJ-04).
    retentionSeconds: {
      access: Math.max(config.ACCESS_TOKEN_TTL_SECONDS, config.STEP_UP_TOKEN_TTL_SECONDS) + CLOCK_TOLERANCE_SECONDS,
      device: config.TRUSTED_DEVICE_TTL_DAYS * 86400 + CLOCK_TOLERANCE_SECONDS,
    },
  }, clock);
  const hasher = createPasswordHasher(
    { memoryCost: config.ARGON2_MEMORY_KIB, timeCost: config.ARGON2_TIME_COST, parallelism: config.ARGON2_PARALLELISM },
    { ...(config.ARGON2_MAX_CONCURRENT > 0 ? { maxConcurrent: config.ARGON2_MAX_CONCURRENT } : {}), maxQueue: config.ARGON2_MAX_QUEUE, callerSignal },
  );
  // Computes the dummy hash now, so the first unknown-email sign-in costs no more than the others.
  await hasher.verifyDummy("warm-up");
  const secretBox = createSecretBox(keyMaterial.encryptionKeys, keyMaterial.activeEncryptionKeyId);
  return { keys, hasher, secretBox };
}

/** External sign-in (Mobile BankID broker), from its own narrow settings. */
async function resolveFederatedProvider(app: App, config: Config, clock: Clock) {
  const resolution = await resolveProvider(config);
  announceProvider(app.log, resolution);
  return "provider" in resolution ? { settings: resolution.provider, verifier: createAssertionVerifier(resolution.provider, clock) } : null;
}

/** The wake-up seam of push long polls: Redis pub/sub when configured, else the database's LISTEN/NOTIFY. */
function createPushWakeup(app: App, config: Config, database: Database) {
  let transport = databaseTransport(database.notifications);
  if (config.REDIS_URL) {
    const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1, commandTimeout: 1_000, connectTimeout: 2_000 });
    redis.on("error", (error) => app.log.warn({ err: error }, "redis (push wake-up) connection error"));
    app.addHook("onClose", async () => { redis.disconnect(); });
    transport = redisTransport(redis);
  }
  const wakeup = createWakeup(transport, app.log);
  // Long polls end at once on shutdown, so closing never waits 25 s for them.
  app.addHook("preClose", async () => { await wakeup.close(); });
  return wakeup;
}

/**
 * Web Push (whenever VAPID keys exist: generated under DATA_DIR in development),
 * APNs and FCM (when configured) wake the authenticator app; without them the
 * app still learns of challenges by long-polling. Tests may pass their own sender.
 */
async function wirePushDelivery(app: App, config: Config, clock: Clock, countPush: (kind: string, outcome: string) => void, override?: PushSender) {
  const settings = await pushDeliverySettings(config);
  const vapidPublicKey = settings.webPush?.publicKey ?? null;
  if (override) return { sender: override, vapidPublicKey };
  const delivery = createPushDelivery(settings, { clock, log: app.log, count: countPush });
  app.addHook("onClose", () => delivery.close());
  app.log.info({ kinds: delivery.kinds }, "push delivery");
  return { sender: delivery, vapidPublicKey };
}

async function wireFeatures(app: App, config: Config, clock: Clock, database: Database, keyMaterial: KeyMaterial, pushSenderOverride?: PushSender) {
  const { prisma } = database;
  // First, so that every answer to an allowed origin, refusals included, is readable by its page.
  const allowedOrigins = originsOf(config.CORS_ALLOWED_ORIGINS);
  await registerCors(app, { allowedOrigins, extraRequestHeaders: [SESSION_TRANSPORT_HEADER] });
  const problems = registerHttpConventions(app, config.ISSUER);
  const transport = await registerCookieTransport(app, { allowedOrigins, maxAgeSeconds: config.SESSION_ABSOLUTE_TIMEOUT_SECONDS });
  await registerOpenApi(app);
  const repositories = repositoriesOf(prisma, clock, config.FEDERATED_PROVIDER);
  const { keys, hasher, secretBox } = await wireCrypto(config, clock, keyMaterial, registerCallerSignal(app));
  const { counters, ping: pingCounters } = createCounterStore(config, database, app);
  const throttle = createSignInThrottle(counters, {
    perAddressPerMinute: config.LOGIN_RATE_PER_IP,
    freeFailures: config.LOGIN_FREE_FAILURES,
    accountFreeFailures: config.LOGIN_ACCOUNT_FREE_FAILURES,
    maxWaitSeconds: config.LOGIN_MAX_WAIT_SECONDS,
  }, clock);

  const policy = createTwoStepPolicy(repositories.companies, clock);
  const { audit, onEvent, metrics, requestContext } = wireEvents(app, config, clock, repositories, (companyId) => repositories.companies.membersSince(companyId));
  // One unit of work: the repositories of one transaction, and the events recorded in it (db/database.ts).
  const transaction = transactionOf(prisma, (tx) => repositoriesOf(tx, clock, config.FEDERATED_PROVIDER), audit.unitOfWork);
  // Every 429, whichever route or limit refused it, is one audit event (checklist LA-01).
  problems.onRefusal(async (request, error) => {
    if (error.code !== "RATE_LIMITED") return;
    await onEvent("excess_rate_limit_exceeded", error.options.subjectUserId ?? null, {
      reason: error.options.logReason ?? "unspecified", route: request.routeOptions.url ?? request.url.split("?")[0], retryAfterSeconds: error.options.retryAfterSeconds,
    });
  });
  const accessTokens = createAccessTokens(keys, { issuer: config.ISSUER, audience: config.ACCESS_TOKEN_AUDIENCE, ttlSeconds: config.ACCESS_TOKEN_TTL_SECONDS });
  const sessions = createSessionService({
    sessions: repositories.sessions,
    accessTokens,
    settings: {
      idleTimeoutSeconds: config.SESSION_IDLE_TIMEOUT_SECONDS,
      absoluteTimeoutSeconds: config.SESSION_ABSOLUTE_TIMEOUT_SECONDS,
      maxAuthAgeSeconds: config.ENROLL_MAX_AUTH_AGE_SECONDS,
      reuseGraceSeconds: config.REFRESH_REUSE_GRACE_SECONDS,
    },
    clock,
    origin: () => {
      const { clientAddress, userAgent } = requestContext.current();
      return { clientAddress, userAgent };
    },
    emit: onEvent,
    takePendingWrites: audit.takePendingWrites,
    mayContinue: policy.sessionMayContinue,
  });
  const clients = createClientService(repositories.clients);
  const guards = createGuards({ person: sessions.authenticate, client: clients.authenticate });
  const challenges = createChallengeService(repositories.challenges, { ttlSeconds: config.MFA_TOKEN_TTL_SECONDS, maxAttempts: config.MFA_MAX_ATTEMPTS_PER_TOKEN }, clock);
  const devices = createDeviceService({ devices: repositories.devices, keys, issuer: config.ISSUER, ttlDays: config.TRUSTED_DEVICE_TTL_DAYS, clock, transaction });
  const checkPassword = createPasswordCheck({
    users: repositories.users,
    hasher,
    throttle,
    failureCap: config.LOGIN_FAILURE_CAP,
    clock,
    emit: onEvent,
    transaction,
    isTrustedDevice: devices.isTrusted,
  });
  const accounts = createAccountsService({
    users: repositories.users,
    hasher,
    policy: { minLength: config.PASSWORD_MIN_LENGTH, maxLength: config.PASSWORD_MAX_LENGTH },
    serviceName: config.SERVICE_NAME,
    checkPassword,
    throttle,
    clientAddress: () => requestContext.current().clientAddress ?? "unknown",
    clock,
    sessions,
    devices,
    emit: onEvent,
    transaction,
    companyNamesOf: repositories.companies.companyNamesOf,
  });

  const checker = createSecondFactorChecker({
    mfa: repositories.mfa,
    secretBox,
    hasher,
    settings: { freeFailures: config.MFA_FREE_FAILURES, maxWaitSeconds: config.MFA_MAX_WAIT_SECONDS, failureCap: config.MFA_FAILURE_CAP },
    clock,
    onEvent,
    transaction,
    takePendingWrites: audit.takePendingWrites,
  });
  const enrollment = createEnrollmentService({
    mfa: repositories.mfa,
    transaction,
    users: repositories.users,
    secretBox,
    hasher,
    checker,
    settings: { issuer: config.SERVICE_NAME, recoveryCodeCount: config.RECOVERY_CODE_COUNT, maxAuthAgeSeconds: config.ENROLL_MAX_AUTH_AGE_SECONDS },
    clock,
    assertMayTurnOff: policy.assertMayTurnOff,
    onEvent,
    sessions,
    reauthenticate: accounts.reauthenticate,
  });
  const secondStep = createSecondStepService({
    mfa: repositories.mfa, checker, challenges, sessions, accessTokens, devices, enrollment, clock, stepUpTtlSeconds: config.STEP_UP_TOKEN_TTL_SECONDS, onEvent, policy,
  });
  const securityState = createSecurityStateReader({ mfa: repositories.mfa, clock, toAppView: toView });
  const pushSettings = { publicUrl: config.ISSUER, serviceName: config.SERVICE_NAME };
  const pairing = createPairingService({
    authenticators: repositories.pushAuthenticators, mfa: repositories.mfa, transaction, enrollment, challenges, startSession: secondStep.authenticated,
    assertMayTurnOff: policy.assertMayTurnOff, onEvent, clock,
    settings: { ...pushSettings, pairingTtlSeconds: config.PUSH_PAIRING_TTL_SECONDS, recoveryCodeCount: config.RECOVERY_CODE_COUNT },
  });
  const delivery = await wirePushDelivery(app, config, clock, metrics.countPush, pushSenderOverride);
  const push = createPushService({
    authenticators: repositories.pushAuthenticators, pushChallenges: repositories.pushChallenges, transaction, challenges, checker,
    startSession: secondStep.authenticated, devices, sender: delivery.sender, wakeup: createPushWakeup(app, config, database),
    claimOnce: oneTimeClaims(counters, clock), onEvent, clock, log: app.log,
    settings: {
      ...pushSettings, challengeTtlSeconds: config.PUSH_CHALLENGE_TTL_SECONDS, numberMatching: config.PUSH_NUMBER_MATCHING,
      minWaitSeconds: config.PUSH_MIN_WAIT_SECONDS, maxWaitSeconds: config.PUSH_MAX_WAIT_SECONDS, notMeBlockSeconds: config.PUSH_NOT_ME_BLOCK_SECONDS,
    },
  });
  const apps = createAppAuthenticator({ authenticators: repositories.pushAuthenticators, claimOnce: oneTimeClaims(counters, clock), clock });
  const signIn = createSignInService({
    users: repositories.users, hasher, checkPassword, maxPasswordLength: config.PASSWORD_MAX_LENGTH, clock, nextStep: secondStep.afterFirstFactor,
  });
  const companies = createCompanyService({
    companies: repositories.companies, userExists: accounts.exists, emit: onEvent, transaction, clock, maxAdminAuthAgeSeconds: config.ENROLL_MAX_AUTH_AGE_SECONDS,
  });
  const federated = createFederatedService({
    provider: await resolveFederatedProvider(app, config, clock),
    providerName: config.FEDERATED_PROVIDER,
    identities: repositories.externalIdentities,
    transaction,
    clock,
    emit: onEvent,
    afterFirstFactor: secondStep.afterFirstFactor,
    startSession: secondStep.authenticated,
    claimOnce: oneTimeClaims(counters, clock),
    userExists: accounts.exists,
    assertActive: accounts.assertActive,
    discardChallenge: challenges.discard,
  });

  registerSignInRoutes(app, signIn, transport);
  registerSessionRoutes(app, { sessions, guards, keys, transport });
  registerAccountRoutes(app, {
    accounts,
    guards,
    me: {
      schemaProperties: { security: ref(SecurityStateSchema) },
      example: { security: securityStateExample },
      load: async (userId) => {
        const found = await securityState.profile(userId);
        return found && { user: found.user, parts: { security: found.security } };
      },
    },
  });
  registerMfaRoutes(app, { guards, enrollment, secondStep, securityState, findEnrollee: challenges.findEnrollee, transport });
  registerPushRoutes(app, { guards, pairing, push, apps, findEnrollee: challenges.findEnrollee, vapidPublicKey: delivery.vapidPublicKey, transport });
  registerDeviceRoutes(app, { guards, devices, emit: onEvent });
  registerCompanyRoutes(app, { guards, companies });
  registerAuditRoutes(app, { guards, audit, isAdmin: companies.isAdmin });
  registerFederatedRoutes(app, { federated, guards, admitAddress: throttle.admitAddress, transport });
  registerHealthRoutes(app, [database.ping, pingCounters], quietLogLevel(config.LOG_LEVEL));
}
