import t from "tap";
import { manualClock } from "../helpers/clock.ts";

t.test("a manual clock moves only when told", async (t) => {
  const clock = manualClock(new Date("2026-01-01T00:00:00Z"));
  t.equal(clock.now().toISOString(), "2026-01-01T00:00:00.000Z");
  clock.advance(30_000);
  t.equal(clock.now().toISOString(), "2026-01-01T00:00:30.000Z");
});
