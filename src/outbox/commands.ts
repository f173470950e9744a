// The operator's view of the outbox (npm run cli -- notifications ...):
//   notifications list [--dead]   the rows waiting for delivery (or only the dead ones), oldest first
//   notifications retry ID        a dead row back to pending, due now, attempts counted afresh
// The body is not listed: it names the person and their client address.
import type { AuditRepository, OutboxListing } from "../audit/repository.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type OutboxAdmin = Pick<AuditRepository, "listOutbox" | "revive">;

export function listOutbox(outbox: OutboxAdmin, options: { dead: boolean }): Promise<OutboxListing[]> {
  return outbox.listOutbox(options.dead ? "dead" : null, 1_000);
}

/** "revived" when the id named a dead row, which the next worker delivers now; else "not_dead". */
export async function retryOutboxMessage(outbox: OutboxAdmin, id: string): Promise<"revived" | "not_dead"> {
  if (!UUID.test(id)) return "not_dead";
  return (await outbox.revive(id)) ? "revived" : "not_dead";
}
