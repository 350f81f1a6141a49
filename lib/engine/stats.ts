/** Counters and gauges about the exporter's own work, written by the tracker and read by the metrics module. */

/**
 * Why the HTTP server turned a connection or request away:
 * - `connection_limit`: a new connection, refused at once because the most connections are open and none can go;
 * - `evicted`: a connection that waited for a request, closed to make room for a new one;
 * - `header_timeout`: a request head that did not arrive whole in time;
 * - `write_timeout`: a client that stopped reading its answer;
 * - `bad_request`: a request that is not HTTP/1.x the server accepts (answered 400);
 * - `auth_busy`: a request refused at once because as many password checks as allowed were already under way.
 */
export const HTTP_REFUSAL_REASONS = [
  "connection_limit",
  "evicted",
  "header_timeout",
  "write_timeout",
  "bad_request",
  "auth_busy",
] as const;
export type HttpRefusalReason = typeof HTTP_REFUSAL_REASONS[number];

/** What the exporter knows about the engine it follows. */
export interface EngineSummary {
  version: string;
  apiVersion: string;
  os: string;
  kernelVersion: string;
  hostname: string;
  /** Where the engine keeps its data (`/info`'s `DockerRootDir`), on its own host; absent when it does not say. */
  dataRoot?: string;
  /** The host's logical CPUs (`NCPU` of `/info`), when the engine says. */
  cpus?: number;
  /** The host's memory in bytes (`MemTotal` of `/info`), when the engine says. */
  memoryBytes?: number;
}

/** The exporter's own counters. Plain data: the tracker mutates it, renderers read it. */
export class ExporterStats {
  /**
   * Container events received, by action (`health_status` without its detail): each action the exporter follows,
   * and `other` for the rest.
   */
  readonly eventsByAction = new Map<string, number>();
  /** Failed engine calls, by operation: version, info, list, inspect, events. */
  readonly apiErrorsByOperation = new Map<string, number>();
  /** Pieces of the event stream that were not usable events (garbage or truncated JSON). */
  eventDecodeErrors = 0;
  /** Attempts to open the event stream again after it ended, failed or could not be opened. */
  eventStreamReconnects = 0;
  /** Engine time of the last event received, in ms since the epoch. */
  lastEventMs: number | undefined;
  /** How long the last successful full refresh took. */
  lastRefreshDurationMs: number | undefined;
  /** Requests to the HTTP server refused for missing or wrong credentials. */
  authFailures = 0;
  /** Connections and requests the HTTP server turned away, by reason (every one of `HTTP_REFUSAL_REASONS`). */
  readonly httpRefusals = new Map<HttpRefusalReason, number>(HTTP_REFUSAL_REASONS.map((reason) => [reason, 0]));
  /** Failed accepts on the listening socket (out of file descriptors, for one). */
  httpAcceptErrors = 0;
  /** Whether the engine answered the last call made to it. */
  engineUp = false;
  /** Whether a first full sync has succeeded. */
  synced = false;
  /** The engine, as of the last successful connect. */
  engine: EngineSummary | undefined;
  /** Increases whenever `engine` changes, so renderers can cache by it. */
  engineRevision = 0;

  /**
   * A string that changes whenever any field does, so that what is rendered from these fields can be cached by it.
   * Made from every own field, so a field added later is covered without being listed here.
   */
  fingerprint(): string {
    let out = "";
    for (const value of Object.values(this)) {
      if (value instanceof Map) {
        for (const [key, count] of value) out += `${key}=${count},`;
        out += ";";
      } else if (typeof value === "object" && value !== null) out += `${JSON.stringify(value)};`;
      else out += `${value};`;
    }
    return out;
  }

  /** Adds one to `map[key]`. */
  static increment<K extends string>(map: Map<K, number>, key: K): void {
    map.set(key, (map.get(key) ?? 0) + 1);
  }
}
