// tap's `before` script (package.json): a run starts with no problem observations,
// so the `after` check sees only what this run's tests received.
import { clearObservations } from "../helpers/problem-observations.ts";

clearObservations();
