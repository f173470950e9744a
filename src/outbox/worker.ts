// The outbox worker: delivers the rows of outbox_messages (one per notified
// event, committed with its change) to the webhook, at least once.
//
// Why a loop of our own and not pg-boss or graphile-worker: both connect with
// `pg` to a PostgreSQL server and keep their own schema and migrations, so
// neither runs on the embedded PGlite that `npm start` and the tests use, and
// each brings a second migration system beside Prisma's (pg-boss 12 also
// brings cron and rrule parsers; graphile-worker a config loader, yargs and
// its own LISTEN connection). What this needs is small: lease one due row with
// FOR UPDATE SKIP LOCKED (audit/repository.ts, works on both databases), send
// it, record the outcome in the row. That is this file.
//
// - Several instances share the work: SKIP LOCKED passes over a row another
//   worker is leasing; the lease (next_attempt_at moved past the attempt's
//   timeout) keeps the row from everyone else while it is delivered.
// - Back-off doubles from WEBHOOK_RETRY_BASE_MS with jitter, up to
//   WEBHOOK_RETRY_MAX_MS, and is stored in the row: a restart keeps it.
// - After WEBHOOK_MAX_ATTEMPTS (or a final answer such as a 4xx or a redirect)
//   the row is kept as dead: /metrics, `notifications list --dead`, `notifications retry ID`.
// - Woken at once when this instance commits outbox rows (nudge); otherwise it
//   polls every WEBHOOK_POLL_INTERVAL_MS (rows of other instances, due retries).
// - stop() lets the row in hand finish (bounded by the attempt's timeout) and takes no other.
import type { FastifyBaseLogger } from "fastify";
import type { LeasedMessage } from "../audit/repository.ts";
import type { AttemptOutcome } from "./webhook.ts";

/** The outbox table, as the worker uses it (audit/repository.ts). */
export interface OutboxStore {
  leaseDue(leaseMs: number): Promise<LeasedMessage | null>;
  delivered(message: LeasedMessage): Promise<void>;
  retryLater(message: LeasedMessage, delayMs: number, reason: string): Promise<void>;
  markDead(message: LeasedMessage, reason: string): Promise<void>;
}

export interface OutboxSettings {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  pollIntervalMs: number;
  /** How long a leased row stays away from other workers: longer than one attempt can take. */
  leaseMs: number;
}

export type DeliveryOutcome = "delivered" | "retry" | "dead";

/** The doubling wait after attempt number `attempt` (1-based), jittered (80-100 %) so retries from many rows do not meet a recovering receiver at once. */
export function backoffMs(attempt: number, retryAfterMs: number | null, settings: OutboxSettings, random = Math.random): number {
  const doubled = Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** (attempt - 1)) * (0.8 + 0.2 * random());
  return Math.round(Math.min(settings.maxDelayMs, Math.max(doubled, retryAfterMs ?? 0)));
}

export function createOutboxWorker(deps: {
  store: OutboxStore;
  send: (message: LeasedMessage) => Promise<AttemptOutcome>;
  settings: OutboxSettings;
  log: FastifyBaseLogger;
  count?: (outcome: DeliveryOutcome) => void;
}) {
  const { store, settings, log } = deps;
  let stopping = false;
  let running: Promise<void> | null = null;
  let nudged = false;
  let wake: (() => void) | null = null;

  /** Records what the attempt came to; returns it. */
  async function settle(message: LeasedMessage, outcome: AttemptOutcome): Promise<DeliveryOutcome> {
    const context = { notificationId: message.id, type: message.type, attempts: message.attempts };
    if (outcome.kind === "delivered") {
      await store.delivered(message);
      log.info({ ...context, status: outcome.status }, "webhook delivered");
      return "delivered";
    }
    if (outcome.kind === "final") {
      await store.markDead(message, `status ${outcome.status}`);
      log.warn({ ...context, status: outcome.status }, "webhook refused by the receiver; kept as dead, not retried");
      return "dead";
    }
    if (message.attempts >= settings.maxAttempts) {
      await store.markDead(message, outcome.reason);
      log.warn({ ...context, reason: outcome.reason }, "webhook delivery gave up; kept as dead");
      return "dead";
    }
    const waitMs = backoffMs(message.attempts, outcome.retryAfterMs, settings);
    await store.retryLater(message, waitMs, outcome.reason);
    log.info({ ...context, reason: outcome.reason, retryInMs: waitMs }, "webhook attempt failed; will retry");
    return "retry";
  }

  /** Leases and delivers one due row; false when none was due. */
  async function deliverOne(): Promise<boolean> {
    const message = await store.leaseDue(settings.leaseMs);
    if (!message) return false;
    const outcome = await settle(message, await deps.send(message));
    deps.count?.(outcome);
    return true;
  }

  /** Waits for a nudge, stop() or the poll interval, whichever comes first. */
  function idle(): Promise<void> {
    if (nudged || stopping) {
      nudged = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => { clearTimeout(timer); wake = null; nudged = false; resolve(); };
      const timer = setTimeout(done, settings.pollIntervalMs);
      wake = done;
    });
  }

  async function loop() {
    while (!stopping) {
      try {
        if (!(await deliverOne())) await idle();
      } catch (error) {
        // The database may be down: the rows are safe there; try again after the poll interval.
        log.warn({ reason: (error as Error)?.name ?? "unknown error" }, "outbox worker could not reach the outbox; will try again");
        await idle();
      }
    }
  }

  return {
    start() {
      if (!running) running = loop();
    },
    /** Rows were committed: deliver now, not at the next poll. */
    nudge() {
      nudged = true;
      wake?.();
    },
    /** Finishes the row in hand, if any, and takes no other. */
    async stop() {
      stopping = true;
      wake?.();
      await running;
    },
    deliverOne,
  };
}

export type OutboxWorker = ReturnType<typeof createOutboxWorker>;
