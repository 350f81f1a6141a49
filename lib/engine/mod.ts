/**
 * Following one engine: the container registry, the tracker that keeps it in step (first sync, events, periodic
 * refresh, stale sweeper, reconnecting with backoff), what each event does and what it counts for its container, the
 * inspect queue, and the exporter's own counters.
 *
 * May import `docker/` and `shared/`.
 * @module
 */
export { CONTAINER_STATES, ContainerRegistry, HEALTH_STATES, isDockerZeroTime } from "./registry.ts";
export type { ContainerRecord } from "./registry.ts";
export { EXIT_REASONS, HEALTH_TRANSITIONS, NO_EVENTS } from "./event_counts.ts";
export type { EventCounts, ExitReason, HealthTransition } from "./event_counts.ts";
export { ExporterStats } from "./stats.ts";
export type { EngineSummary, HttpRefusalReason } from "./stats.ts";
export { ContainerTracker } from "./tracker.ts";
