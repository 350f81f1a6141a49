/**
 * What the exporter counts from a container's events: its starts, its exits by reason and its health transitions.
 * Only an exporter that follows the events can count what happens between two scrapes: a crash loop of five restarts
 * shows +5 even when every scrape finds the container running. Pure: counts are replaced, never changed.
 */
import type { ContainerEvent } from "../docker/mod.ts";

/**
 * Why a container's main process ended, as `docker_container_exits_total` counts it:
 * - `oom`: an `oom` event came since the container last started (the kernel's OOM killer struck);
 * - `stopped`: otherwise, a `kill` or `stop` event came since it last started (`docker stop`, `docker kill`,
 *   `docker restart`, `docker rm -f`);
 * - `completed`: otherwise, it exited with code 0;
 * - `error`: otherwise, with any other code (or none the event gave).
 */
export const EXIT_REASONS = ["completed", "error", "oom", "stopped"] as const;
export type ExitReason = typeof EXIT_REASONS[number];

/** The health states a container with a health check moves between, as `to` of its transitions. */
export const HEALTH_TRANSITIONS = ["healthy", "unhealthy", "starting"] as const;
export type HealthTransition = typeof HEALTH_TRANSITIONS[number];

/** One container's counts. Each is counted since the exporter first heard of the container. */
export interface EventCounts {
  /** `start` events: every start, by hand or by the restart policy. */
  readonly starts: number;
  /** `die` events, by reason. */
  readonly exits: Readonly<Record<ExitReason, number>>;
  /** Changes of health, by the health changed to. */
  readonly healthTransitions: Readonly<Record<HealthTransition, number>>;
  /** What the next exit counts as whatever its code: an `oom` event or a stop request came since the last start. */
  readonly pendingExit?: "oom" | "stopped";
  /** The health the container's events last gave (a `health_status`, or a start); absent before any. */
  readonly health?: HealthTransition;
}

/** The counts of a container no event was counted for: every count 0. */
export const NO_EVENTS: EventCounts = Object.freeze({
  starts: 0,
  exits: Object.freeze({ completed: 0, error: 0, oom: 0, stopped: 0 }),
  healthTransitions: Object.freeze({ healthy: 0, unhealthy: 0, starting: 0 }),
});

/**
 * The counts after `event`, or `counts` itself when the event changes none of them. `recordHealth` is the health the
 * container's record shows (from its last inspect), the baseline for its first health event.
 *
 * Podman's names are read as Docker's (`died` as `die`). Health transitions:
 * - a `health_status` counts a transition when it names another health than the last one (Docker names the new
 *   health in its detail, and sends the event only when it changes; Podman 4.3 sends one per check, with the health
 *   from before the check, so there a transition is counted one check late). A first `starting` is no transition: a
 *   new container's health starts there.
 * - a start counts a transition to `starting` once the container's events gave it a health: the engine puts the
 *   health back to starting on every start, without an event.
 */
export function countEvent(counts: EventCounts, event: ContainerEvent, recordHealth?: string): EventCounts {
  switch (event.action) {
    case "start": {
      const { pendingExit: _, ...rest } = counts;
      const reset = counts.health !== undefined && counts.health !== "starting";
      return {
        ...rest,
        starts: counts.starts + 1,
        ...(reset ? { healthTransitions: add(counts.healthTransitions, "starting"), health: "starting" } : {}),
      };
    }
    case "die":
    case "died": {
      const { pendingExit, ...rest } = counts;
      const code = event.attributes.exitCode ?? event.attributes.containerExitCode;
      const reason: ExitReason = pendingExit ?? (code?.trim() === "0" ? "completed" : "error");
      return { ...rest, exits: add(counts.exits, reason) };
    }
    case "oom":
      return counts.pendingExit === "oom" ? counts : { ...counts, pendingExit: "oom" };
    case "kill":
    case "stop":
      // Docker sends `stop` after the die it caused, Podman before it (when it sends one); the next start clears it.
      return counts.pendingExit !== undefined ? counts : { ...counts, pendingExit: "stopped" };
    case "health_status": {
      const health = asTransition(event.detail) ?? asTransition(event.healthStatus);
      if (health === undefined) return counts;
      const last = counts.health ?? asTransition(recordHealth);
      if (health === last) return counts.health === health ? counts : { ...counts, health };
      const counted = last !== undefined || health !== "starting";
      return { ...counts, health, ...(counted ? { healthTransitions: add(counts.healthTransitions, health) } : {}) };
    }
    default:
      return counts;
  }
}

function asTransition(text: string | undefined): HealthTransition | undefined {
  return (HEALTH_TRANSITIONS as readonly (string | undefined)[]).includes(text) ? text as HealthTransition : undefined;
}

function add<K extends string>(counts: Readonly<Record<K, number>>, key: NoInfer<K>): Readonly<Record<K, number>> {
  return { ...counts, [key]: counts[key] + 1 };
}
