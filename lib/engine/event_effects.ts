/**
 * What each container event does to the registry: fields changed at once, a removal, and whether the
 * container must be inspected for the state the event does not carry. Pure.
 */
import type { ContainerRecord, HealthState } from "./registry.ts";
import type { ContainerEvent } from "../docker/mod.ts";

/** The effect of one event. */
export interface EventEffect {
  /** Forget the container. */
  remove: boolean;
  /** Fields known from the event alone, applied before any inspect answers. */
  patch?: Partial<ContainerRecord>;
  /** Fetch the full state (start time, exit code, restart count, ...) with an inspect. */
  inspect: boolean;
}

const HEALTH_DETAILS: Record<string, HealthState> = {
  healthy: "healthy",
  unhealthy: "unhealthy",
  starting: "starting",
};

/**
 * Decides the effect of `event`. `known` says whether the registry already has the container:
 * an event about an unknown container always leads to an inspect (unless it is a removal),
 * so a container missed at sync time is picked up by its next event.
 * Podman's names are read as Docker's: `remove` as `destroy`, `died` as `die`.
 */
export function eventEffect(event: ContainerEvent, known: boolean): EventEffect {
  const seconds = event.timeMs > 0 ? event.timeMs / 1000 : undefined;
  switch (event.action) {
    case "destroy":
    case "remove":
      return { remove: true, inspect: false };
    case "rename": {
      const name = event.attributes.name?.replace(/^\//, "");
      return { remove: false, patch: name ? { name } : undefined, inspect: !known || !name };
    }
    case "die":
    case "died": {
      // Podman's own `died` has the code only in `containerExitCode`; its `die` has it in `exitCode` too.
      const code = event.attributes.exitCode ?? event.attributes.containerExitCode;
      const exitCode = code ? Number(code) : NaN;
      return {
        remove: false,
        patch: {
          state: "exited",
          ...(Number.isInteger(exitCode) ? { exitCode } : {}),
          ...(seconds ? { finishedSeconds: seconds } : {}),
        },
        // The inspect tells whether a restart policy moved it to `restarting`, and the exact finish time.
        inspect: true,
      };
    }
    case "oom":
      return { remove: false, patch: { oomKilled: true }, inspect: !known };
    case "pause":
      return { remove: false, patch: { state: "paused" }, inspect: !known };
    case "unpause":
      return { remove: false, patch: { state: "running" }, inspect: !known };
    case "health_status": {
      // Podman 4.3 sends a bare `health_status` as a check starts (its `HealthStatus` is the status before the
      // check), so this inspect may still see the old health; the next refresh brings the result.
      const health = HEALTH_DETAILS[event.detail];
      // The failing streak is not in the event; the inspect brings it.
      return { remove: false, patch: health ? { health } : undefined, inspect: true };
    }
    case "kill":
      // A signal was sent; `die` follows if it ended the container.
      return { remove: false, inspect: !known };
    default:
      // create, start, restart, stop, and anything newer engines add: fetch the whole state.
      return { remove: false, inspect: true };
  }
}
