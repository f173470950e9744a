// The guards every feature's routes take: a person's session (this feature's
// Principal) or a service client.
import type { Guards } from "../http/guards.ts";
import type { ServiceClient } from "../clients/service.ts";
import type { Principal } from "./service.ts";

export type AppGuards = Guards<Principal, ServiceClient>;
