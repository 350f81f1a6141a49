/**
 * Docker container events: the actions the exporter follows, parsing one event object,
 * and following the `/events` stream through the raw socket reader.
 */
import type { DockerEndpoint } from "./endpoint.ts";
import { openStream } from "./socket.ts";
import { JsonStreamDecoder } from "./wire/mod.ts";

/**
 * The container event actions the exporter subscribes to (Docker reports `health_status: <status>`).
 * The last two are Podman's own names: its Docker-compatible `/events` matches the filter against them and
 * reports `died` as `die` (so without `died` no exit would arrive), and it says `remove` where Docker says
 * `destroy`. Docker ignores names it never sends. Podman's `init` (before a start) and `cleanup` (after a
 * `die`) are left out: they change nothing the exporter shows.
 */
export const FOLLOWED_ACTIONS = [
  "create",
  "start",
  "restart",
  "die",
  "stop",
  "kill",
  "oom",
  "pause",
  "unpause",
  "health_status",
  "rename",
  "destroy",
  "died",
  "remove",
] as const;

/** One container event, reduced to what the exporter uses. */
export interface ContainerEvent {
  /** The action without its detail: `health_status` for `health_status: healthy`. */
  action: string;
  /** What followed `: ` in the action (`healthy`), or "". */
  detail: string;
  id: string;
  attributes: Readonly<Record<string, string>>;
  /** When the engine saw it, in milliseconds since the epoch. */
  timeMs: number;
  /**
   * The engine's `timeNano`, when it sent one: as exact as a double holds it, which still tells apart any two events
   * of one container (an event replayed after a reconnect has the same).
   */
  timeNano?: number;
  /**
   * Podman's `HealthStatus` on a bare `health_status`: the health as the event was sent, which Podman 4.3 sends as a
   * check starts, before its result is stored (Docker puts the new health in the action's detail instead).
   */
  healthStatus?: string;
}

/**
 * Reads one decoded `/events` object. Returns `undefined` for anything that is not a container event
 * with an id and an action (other event types, or objects missing those fields).
 */
export function parseContainerEvent(value: unknown): ContainerEvent | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const raw = value as Record<string, unknown>;
  const actor = (typeof raw.Actor === "object" && raw.Actor !== null ? raw.Actor : {}) as Record<string, unknown>;
  const type = raw.Type ?? "container";
  const fullAction = typeof raw.Action === "string" ? raw.Action : raw.status;
  const id = typeof actor.ID === "string" ? actor.ID : raw.id;
  if (type !== "container" || typeof fullAction !== "string" || typeof id !== "string" || id === "") {
    return undefined;
  }
  const colon = fullAction.indexOf(":");
  const attributes: Record<string, string> = {};
  if (typeof actor.Attributes === "object" && actor.Attributes !== null) {
    for (const [key, val] of Object.entries(actor.Attributes)) {
      if (typeof val === "string") attributes[key] = val;
    }
  }
  const timeMs = typeof raw.timeNano === "number"
    ? Math.floor(raw.timeNano / 1e6)
    : typeof raw.time === "number"
    ? raw.time * 1000
    : 0;
  return {
    action: colon < 0 ? fullAction : fullAction.slice(0, colon).trim(),
    detail: colon < 0 ? "" : fullAction.slice(colon + 1).trim(),
    id,
    attributes,
    timeMs,
    ...(typeof raw.timeNano === "number" ? { timeNano: raw.timeNano } : {}),
    ...(typeof raw.HealthStatus === "string" && raw.HealthStatus !== "" ? { healthStatus: raw.HealthStatus } : {}),
  };
}

/** The `/events` path for API version `apiVersion`, filtered to followed container actions, from `sinceSeconds`. */
export function eventsPath(apiVersion: string, sinceSeconds?: number): string {
  const filters = JSON.stringify({ type: ["container"], event: FOLLOWED_ACTIONS });
  const since = sinceSeconds === undefined ? "" : `&since=${Math.floor(sinceSeconds)}`;
  return `/v${apiVersion}/events?filters=${encodeURIComponent(filters)}${since}`;
}

/** What the event stream yields: an event, or a piece of the stream that was not a usable event. */
export type EventStreamItem =
  | { kind: "event"; event: ContainerEvent }
  | { kind: "garbage"; text: string; error: string };

/** An open event stream: its items until the engine or `close()` ends it. */
export interface EventStream {
  items: AsyncIterable<EventStreamItem>;
  close(): void;
}

/**
 * Opens `/events` and returns once the engine has answered, so that a caller can list containers
 * afterwards knowing no event in between is lost. Iterating `items` ends when the stream ends.
 * @throws DockerApiError when the engine cannot be reached or refuses.
 */
export async function openEventStream(
  endpoint: DockerEndpoint,
  options: { apiVersion: string; sinceSeconds?: number; headTimeoutMs: number; signal?: AbortSignal },
): Promise<EventStream> {
  const response = await openStream(endpoint, eventsPath(options.apiVersion, options.sinceSeconds), {
    headTimeoutMs: options.headTimeoutMs,
    signal: options.signal,
    operation: "events",
    openEnded: true,
  });
  async function* items(): AsyncGenerator<EventStreamItem> {
    const decoder = new JsonStreamDecoder();
    const classify = function* (results: ReturnType<JsonStreamDecoder["push"]>): Generator<EventStreamItem> {
      for (const result of results) {
        if (!result.ok) {
          yield { kind: "garbage", text: result.text.slice(0, 200), error: result.error };
          continue;
        }
        const event = parseContainerEvent(result.value);
        if (event) yield { kind: "event", event };
        else {yield {
            kind: "garbage",
            text: JSON.stringify(result.value).slice(0, 200),
            error: "not a container event",
          };}
      }
    };
    for await (const piece of response.body) yield* classify(decoder.push(piece));
    yield* classify(decoder.end());
  }
  return { items: items(), close: response.close };
}
