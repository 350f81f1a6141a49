/** A container record with fixed, plausible defaults, for tests that build families from records. */
import type { ContainerRecord } from "../../lib/engine/registry.ts";
import { NO_EVENTS } from "../../lib/engine/event_counts.ts";

/** A running busybox container named after its id; `changes` override any field. */
export function containerRecord(id: string, changes: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    id,
    name: id,
    image: "busybox:1.36",
    imageId: "sha256:" + "ab".repeat(32),
    labels: {},
    state: "running",
    createdSeconds: 1_795_600_000,
    startedSeconds: 1_795_600_001.25,
    finishedSeconds: undefined,
    restartCount: 0,
    exitCode: 0,
    oomKilled: false,
    health: "none",
    failingStreak: 0,
    events: NO_EVENTS,
    ...changes,
  };
}
