/**
 * Collects the running containers' resource use in the background, on its own interval and with bounded
 * concurrency, so a scrape only ever renders the last collection. Two sources behind one interface: the
 * containers' cgroup files (fast, no load on the engine) and the engine's stats API with `one-shot=true`.
 * `EXPORTER_RESOURCE_METRICS` picks one: `auto` (cgroup files when readable and the engine is on this host, else the
 * API), `cgroup`, `api`, `off`.
 */
import type { CgroupReader } from "./cgroup_reader.ts";
import { type ContainerRecord, isDockerZeroTime } from "../engine/mod.ts";
import type { ContainerStats } from "../docker/mod.ts";
import type { Logger } from "../shared/mod.ts";
import { type ContainerUsage, usageFromStats } from "./usage.ts";
import { collectEvery } from "./schedule.ts";

/** Where resource metrics come from: the values of `EXPORTER_RESOURCE_METRICS`. */
export const RESOURCE_MODES = ["auto", "cgroup", "api", "off"] as const;
export type ResourceMode = typeof RESOURCE_MODES[number];

/** A container to read: its id, its init process on the host (0 when unknown), and its record. */
export interface ResourceTarget {
  id: string;
  pid: number;
  record: ContainerRecord;
}

/** The containers whose resources are collected: running and paused ones (a paused one still holds memory). */
export function resourceTargets(containers: readonly ContainerRecord[]): ResourceTarget[] {
  const targets: ResourceTarget[] = [];
  for (const c of containers) {
    if (c.state === "running" || c.state === "paused") targets.push({ id: c.id, pid: c.pid ?? 0, record: c });
  }
  return targets;
}

/** When a collection last read a container (whole Unix seconds, when that collection started), and its record then. */
export interface LastSeen {
  record: ContainerRecord;
  seconds: number;
}

/**
 * How long a container that is no longer read keeps its `lastSeen` entry: Prometheus's default lookback (5 minutes),
 * for which a query still finds cAdvisor's last sample of a container that stopped (cAdvisor writes
 * `container_last_seen` with a timestamp, so no staleness marker ends it). `time() - container_last_seen > 60`, the
 * usual "container killed" alert, fires in that window on both. A removed container's entry is not shown (see
 * `resourceFamilies`).
 */
export const LAST_SEEN_KEPT_MS = 5 * 60_000;

/** Where readings come from. */
export interface ResourceSource {
  readonly name: "cgroup" | "api";
  /** Reads to keep in flight at once. */
  readonly concurrency: number;
  /** Called once before each collection with the ids about to be read. */
  beginCycle?(ids: ReadonlySet<string>): void;
  /** One container's usage; `undefined` when the container is gone. Throws for any other failure. */
  read(target: ResourceTarget): Promise<ContainerUsage | undefined>;
}

/**
 * The cgroup files, through a `CgroupReader`. One reader at a time: the reads are synchronous (microseconds
 * each), and a single worker that yields every few containers keeps scrapes answered during a collection.
 */
export function cgroupSource(reader: CgroupReader): ResourceSource {
  return {
    name: "cgroup",
    concurrency: 1,
    beginCycle: (ids) => reader.beginCycle(ids),
    read: async (target) => await reader.read(target.id, target.pid),
  };
}

/** Stats requests in flight at once on the API path. */
export const API_CONCURRENCY = 32;

/**
 * The engine's stats API: one `GET /containers/{id}/stats?stream=false&one-shot=true` per container.
 * `stats` resolves to `undefined` for a container the engine no longer has (404). Many requests in flight:
 * the engine answers them on its stats collector's next one-second tick, all pending ones together, so a
 * request takes up to a second whatever the load, and requests one after another would take N seconds.
 */
export function apiSource(stats: (id: string) => Promise<ContainerStats | undefined>): ResourceSource {
  return {
    name: "api",
    concurrency: API_CONCURRENCY,
    read: async (target) => {
      const answer = await stats(target.id);
      // A container that stopped since the target list was made answers with zeros taken at Docker's zero time:
      // gone, not a reading whose counters fell to 0.
      return answer === undefined || isDockerZeroTime(answer.read) ? undefined : usageFromStats(answer);
    },
  };
}

/** What a collector needs; `openCgroup` and `openApi` build the two sources, `openCgroup` throwing when it cannot. */
export interface CollectorOptions {
  mode: Exclude<ResourceMode, "off">;
  openCgroup: () => ResourceSource;
  openApi: () => ResourceSource;
  /** True when the engine is not on this host (DOCKER_HOST=tcp://...): its containers' cgroups are not here. */
  remoteEngine: boolean;
  /** The containers to read, asked once per collection. */
  targets: () => ResourceTarget[];
  /** How often to collect; unset, `DEFAULT_INTERVAL_MS` of the source in use. */
  intervalMs?: number;
  logger: Logger;
  /** The wall clock in Unix milliseconds (`Date.now`): `lastSeen` holds its seconds. */
  now: () => number;
  /** Reads in flight at once; default: the source's own `concurrency`. */
  concurrency?: number;
  /** The first collection waits until this is true (the first sync with the engine), so it is not empty. */
  ready?: () => boolean;
}

/**
 * How often to collect by default, by source. Cgroup files cost microseconds a container and nothing of the engine,
 * so they are read often enough that a scrape sees values at most a few seconds old; each stats call makes the
 * engine wait for its next one-second sample, so the stats API keeps the scrape interval Prometheus uses by default.
 */
export const DEFAULT_INTERVAL_MS = { cgroup: 5_000, api: 15_000 } as const;

/** Collections in a row that found none of the running containers before `auto` gives up on the cgroup files. */
const EMPTY_CYCLES_BEFORE_FALLBACK = 2;
/** A worker lets the event loop (and so scrapes) run after this many containers. */
const YIELD_EVERY = 16;

/**
 * Collects in the background. `usage` and `generation` change together, once per finished collection;
 * nothing here runs when a scrape renders.
 */
export class ResourceCollector {
  readonly #options: CollectorOptions;
  #source: ResourceSource | undefined;
  #usage: ReadonlyMap<string, ContainerUsage> = new Map();
  #lastSeen: ReadonlyMap<string, LastSeen> = new Map();
  #generation = 0;
  #emptyCycles = 0;
  #failing = false;
  #openFailed = false;
  /** Readings that failed for a reason other than the container being gone, since start. */
  errors = 0;
  /** How long the last finished collection took. */
  lastDurationMs: number | undefined;

  constructor(options: CollectorOptions) {
    this.#options = options;
  }

  /** Increases once per finished collection, so renderers can cache by it. */
  get generation(): number {
    return this.#generation;
  }

  /** The last collection's readings, by container id. */
  get usage(): ReadonlyMap<string, ContainerUsage> {
    return this.#usage;
  }

  /**
   * When each container was last read, by id: those the last collection read, and those read within
   * `LAST_SEEN_KEPT_MS` before it. Replaced (never changed) with `usage`.
   */
  get lastSeen(): ReadonlyMap<string, LastSeen> {
    return this.#lastSeen;
  }

  /** How often it collects: as set, else by its source (the stats API's until one is chosen). */
  get intervalMs(): number {
    return this.#options.intervalMs ?? DEFAULT_INTERVAL_MS[this.#source?.name ?? "api"];
  }

  /** `cgroup` or `api` once a source is chosen. */
  get sourceName(): "cgroup" | "api" | undefined {
    return this.#source?.name;
  }

  /**
   * Collects until `signal` aborts: once `ready`, one collection every `intervalMs` (from start to start),
   * never two at once.
   */
  run(signal: AbortSignal): Promise<void> {
    return collectEvery({
      signal,
      ready: this.#options.ready,
      intervalMs: () => this.intervalMs,
      now: this.#options.now,
      collect: () => this.collect(signal),
    });
  }

  /**
   * One collection: reads every target with at most `concurrency` reads in flight, skips the ones that
   * are gone, then replaces `usage` at once. Never throws; failures are counted and logged.
   */
  async collect(signal?: AbortSignal): Promise<void> {
    const source = this.#open();
    if (!source) {
      // EXPORTER_RESOURCE_METRICS=cgroup and the files cannot be read: every container's reading failed, and the
      // error counter says so, for an alert to see (the log says it once).
      this.errors += this.#options.targets().length;
      this.#generation++;
      return;
    }
    const { logger, now } = this.#options;
    const started = now();
    const targets = this.#options.targets();
    const next = new Map<string, ContainerUsage>();
    const failures: { id: string; error: unknown }[] = [];
    try {
      source.beginCycle?.(new Set(targets.map((target) => target.id)));
    } catch (error) {
      logger.warn("resource collection could not start", { error });
      return;
    }
    let index = 0;
    const worker = async () => {
      for (let done = 1; index < targets.length && !signal?.aborted; done++) {
        const target = targets[index++];
        try {
          const usage = await source.read(target);
          if (usage) next.set(target.id, usage);
        } catch (error) {
          failures.push({ id: target.id, error });
        }
        if (done % YIELD_EVERY === 0) await new Promise((resolve) => setTimeout(resolve, 0));
      }
    };
    const workers = Math.max(1, Math.min(this.#options.concurrency ?? source.concurrency, targets.length));
    await Promise.all(Array.from({ length: workers }, worker));
    if (signal?.aborted) return;

    const failed = failures.length;
    const seconds = Math.floor(started / 1000);
    const seen = new Map<string, LastSeen>();
    for (const target of targets) if (next.has(target.id)) seen.set(target.id, { record: target.record, seconds });
    this.#usage = next;
    this.#lastSeen = this.#keptLastSeen(seen, started);
    this.errors += failed;
    this.lastDurationMs = now() - started;
    this.#generation++;
    if (failed > 0 && !this.#failing) {
      logger.warn("cannot read some containers' resource use", {
        source: source.name,
        failed,
        of: targets.length,
        id: failures[0].id,
        error: failures[0].error,
      });
    } else if (failed === 0 && this.#failing) {
      logger.info("reading containers' resource use again", { source: source.name });
    }
    this.#failing = failed > 0;
    this.#fallBackIfNothingFound(source, targets.length, next.size, failed);
  }

  /** `seen` with the entries of the last `lastSeen` it lacks that are younger than `LAST_SEEN_KEPT_MS` at `nowMs`. */
  #keptLastSeen(seen: Map<string, LastSeen>, nowMs: number): Map<string, LastSeen> {
    for (const [id, entry] of this.#lastSeen) {
      if (!seen.has(id) && nowMs - entry.seconds * 1000 < LAST_SEEN_KEPT_MS) seen.set(id, entry);
    }
    return seen;
  }

  #open(): ResourceSource | undefined {
    if (this.#source) return this.#source;
    const { mode, logger, remoteEngine } = this.#options;
    if (mode === "api" || (mode === "auto" && remoteEngine)) {
      this.#source = this.#options.openApi();
      logger.info("collecting resource metrics from the engine's stats API", {
        reason: mode === "api" ? "EXPORTER_RESOURCE_METRICS=api" : "the engine is on another host",
      });
      return this.#source;
    }
    try {
      this.#source = this.#options.openCgroup();
      logger.info("collecting resource metrics from cgroup files");
    } catch (error) {
      if (mode === "cgroup") {
        // Told once; tried again every interval, in case the mount appears.
        if (!this.#openFailed) logger.error("cannot collect resource metrics from cgroup files", { error });
        this.#openFailed = true;
        return undefined;
      }
      this.#source = this.#options.openApi();
      logger.info("collecting resource metrics from the engine's stats API: the cgroup files are not readable", {
        error,
      });
    }
    return this.#source;
  }

  /** `auto` only: cgroup files that hold none of the running containers are another host's or a wrong mount. */
  #fallBackIfNothingFound(source: ResourceSource, targets: number, found: number, failed: number): void {
    if (this.#options.mode !== "auto" || source.name !== "cgroup") return;
    this.#emptyCycles = targets > 0 && found === 0 && failed === 0 ? this.#emptyCycles + 1 : 0;
    if (this.#emptyCycles < EMPTY_CYCLES_BEFORE_FALLBACK) return;
    this.#options.logger.warn(
      "the cgroup files hold none of the running containers; collecting from the engine's stats API instead",
      { containers: targets },
    );
    this.#source = this.#options.openApi();
  }
}
